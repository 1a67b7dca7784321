package kv

import "context"

type writeGuardKey struct{}

// WithWriteGuard returns ctx carrying guard, a check that a write made with
// the context may still leave the process (nil) or not (an error). The
// coordinator attaches one to a request's background work: work that was
// suspended (a Lambda freeze) must never write an old version.
func WithWriteGuard(ctx context.Context, guard func() error) context.Context {
	return context.WithValue(ctx, writeGuardKey{}, guard)
}

// CheckWrite runs ctx's write guard, if any. ReplicaStore adapters call it
// right before every attempt of a write or delete request leaves the process
// (after any client-side delay, such as injected latency, a retry's backoff
// or a wait for a commit), so a write held up across a freeze is refused at
// the last moment; they return its error unchanged (wrapped).
func CheckWrite(ctx context.Context) error {
	if g, ok := ctx.Value(writeGuardKey{}).(func() error); ok && g != nil {
		return g()
	}
	return nil
}
