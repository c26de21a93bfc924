//go:build !unix

package smtpclient

import "net"

// peekSocket is not available here: Idle falls back to a short read.
func peekSocket(net.Conn) (pending bool, err error, ok bool) { return false, nil, false }
