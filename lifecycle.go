package o365smtp

import (
	"context"
	"errors"
)

// errSenderClosed is the cause of a Send's context ended by Close.
var errSenderClosed = errors.New("o365smtp: the Sender was closed")

// enter registers a Send or Verify that starts now and returns its
// context, which also ends when Close is called, and the func to call when
// it is done. It reports false after Shutdown or Close.
func (s *Sender) enter(ctx context.Context) (context.Context, func(), bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ctx, nil, false
	}
	s.inflight.Add(1)
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.life, func() { cancel(errSenderClosed) })
	return ctx, func() {
		stop()
		cancel(nil)
		s.inflight.Done()
	}, true
}

// closedWhile turns the ErrCanceled of a Send that Close interrupted into
// ErrClosed; other errors are kept (ErrUnknownOutcome in particular).
func (s *Sender) closedWhile(ctx context.Context, err *Error) *Error {
	if err != nil && err.Kind == ErrCanceled && errors.Is(context.Cause(ctx), errSenderClosed) {
		e := closedError()
		e.Op, e.Message, e.Err = err.Op, "the Sender was closed while the message was being sent", errSenderClosed
		return e
	}
	return err
}

// Shutdown stops accepting Sends and Verifies, waits for those that had
// started (whether they were waiting for a connection slot, a token, the
// governor or a backoff, or sending) to complete or fail on their own
// terms, then QUITs and closes every connection. If ctx ends first, it
// cancels what is still in flight as Close does, and returns ErrCanceled
// without waiting any longer.
// Sends after Shutdown fail with ErrClosed. Calling it again is harmless.
func (s *Sender) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	drained := make(chan struct{})
	go func() { s.inflight.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		// What is still in flight ends now, as with Close, but
		// Shutdown does not wait for it any longer.
		s.stop()
		_ = s.transport.close(context.Background(), false)
		return canceledError("shutdown", ctx.Err())
	}
	err := s.transport.close(ctx, true)
	s.release()
	if err != nil {
		return err
	}
	return nil
}

// Close stops accepting Sends and Verifies and ends those in flight at
// once: their contexts are canceled, every connection is closed (a Send
// whose message data was already sent gets ErrUnknownOutcome, the others
// ErrClosed), and a token request in flight is abandoned. When Close
// returns, no goroutine of the Sender remains. Calling it again is
// harmless.
func (s *Sender) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	_ = s.transport.close(context.Background(), false)
	s.inflight.Wait()
	s.release()
	return nil
}

// release ends what the Sender owns beyond its connections: its own token
// source's request in flight (a shared one, from NewTokenSource, is left
// to its other users).
func (s *Sender) release() {
	s.stop()
	if s.r.cfg.TokenSource == nil || s.r.cfg.TokenSource != TokenSource(s.tokens) {
		s.tokens.close()
	}
	if g := s.graphTokens; g != nil && g != s.tokens && (s.r.cfg.TokenSource == nil || s.r.cfg.TokenSource != TokenSource(g)) {
		g.close()
	}
}
