package main

import (
	"time"

	api "github.com/cartwheel/cartwheel/client"
)

// setTTL adds put --ttl to a put's query: a whole number of seconds,
// 1..api.MaxTTLSeconds; 0 sends nothing (the cluster's default applies).
func checkTTL(ttl time.Duration) error {
	if ttl == 0 {
		return nil
	}
	if ttl < time.Second || ttl%time.Second != 0 || ttl > api.MaxTTLSeconds*time.Second {
		return fail(exitUsage, "--ttl %v must be a whole number of seconds from 1s to %v", ttl, api.MaxTTLSeconds*time.Second)
	}
	return nil
}

// expiresNote is ", expires <time>" for a sibling's header line, or "".
func expiresNote(ms int64) string {
	if ms == 0 {
		return ""
	}
	return ", expires " + time.UnixMilli(ms).UTC().Format(time.RFC3339)
}
