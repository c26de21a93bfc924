package o365smtp

// Fleet shares one mailbox's Exchange Online allowance between every process
// that sends as it: MaxConnections, MessagesPerMinute, the back-off after a
// throttling reply (432 4.3.2, 4.7.5xx, Graph 429 Retry-After) and the
// recipients per day. The in-process limits are one implementation of it;
// the module github.com/o365smtp/o365smtp/redisfleet keeps them in Redis.
// Implementations must be safe for concurrent use.
//
// Its methods are not settled yet: until they are, a Config with a Fleet is
// refused by New with ErrConfig.
type Fleet interface{}
