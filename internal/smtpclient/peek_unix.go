//go:build unix

package smtpclient

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// peekSocket looks, without waiting or consuming anything, whether the
// socket under conn has bytes to read (pending) or was closed by the peer
// (err io.EOF). ok is false when conn is not a socket it can peek at (a
// Config.DialContext may return any net.Conn).
func peekSocket(conn net.Conn) (pending bool, err error, ok bool) {
	sc, isSC := conn.(syscall.Conn)
	if !isSC {
		return false, nil, false
	}
	rc, rerr := sc.SyscallConn()
	if rerr != nil {
		return false, nil, false
	}
	var buf [1]byte
	var n int
	var perr error
	cerr := rc.Read(func(fd uintptr) bool {
		n, _, perr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait for the socket to become readable
	})
	switch {
	case cerr != nil:
		return false, cerr, true
	case errors.Is(perr, syscall.EAGAIN) || errors.Is(perr, syscall.EWOULDBLOCK):
		return false, nil, true
	case perr != nil:
		return false, perr, true
	case n == 0:
		return false, io.EOF, true
	}
	return true, nil, true
}
