package kv_test

import (
	"fmt"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// benchContext is a get's context: a clock of three replica actors and the
// three replicas seen with their ETags.
func benchContext() kv.Context {
	var c kv.Context
	for i := range 3 {
		actor := kv.ActorFor(fmt.Sprintf("n%d", i+1), 1, uint64(i)*0x9e3779b97f4a7c15)
		c.Clock = append(c.Clock, vclock.Entry{Actor: vclock.Actor(actor), Counter: uint64(10 + i), Time: 1_700_000_000_000})
		c.Seen = append(c.Seen, kv.Seen{Node: fmt.Sprintf("n%d", i+1), ETag: fmt.Sprintf(`"%032x"`, i+1), Actor: actor})
	}
	return c
}

func BenchmarkEncodeContext(b *testing.B) {
	c := benchContext()
	b.ReportAllocs()
	for b.Loop() {
		kv.EncodeContext(testKeys, testKey, c)
	}
}

func BenchmarkDecodeContext(b *testing.B) {
	token := kv.EncodeContext(testKeys, testKey, benchContext())
	lim := kv.DefaultLimits()
	b.SetBytes(int64(len(token)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kv.DecodeContext(testKeys, testKey, token, lim, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDataName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		kv.DataName("user:1234567")
	}
}
