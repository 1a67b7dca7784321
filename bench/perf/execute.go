package perf

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// value returns a fresh value (a new slice each time: the coordinator keeps
// referring to it while it finishes the write in the background).
func (w *worker) value() []byte {
	v := make([]byte, w.b.cfg.ValueSize)
	for i := 0; i < len(v); i += 8 {
		var x [8]byte
		binary.LittleEndian.PutUint64(x[:], w.rng.Uint64())
		copy(v[i:], x[:])
	}
	return v
}

// record adds one operation's latencies (or error) to the worker's histograms.
func (w *worker) record(kind string, intended, start time.Time, err error) {
	l := w.lat[kind]
	if l == nil {
		l = newLatencies()
		w.lat[kind] = l
	}
	if err != nil {
		l.Errors++
		l.sampleError(err.Error())
		return
	}
	end := time.Now()
	recordUS(l.Response, end.Sub(intended))
	recordUS(l.Service, end.Sub(start))
}

func (w *worker) cachedContext(key string) string {
	if v, ok := w.b.ctxs.Load(key); ok {
		return v.(string)
	}
	return ""
}

func (w *worker) get(ctx context.Context, key string, intended time.Time) (coordinator.GetResult, error) {
	start := time.Now()
	res, err := w.b.coord.Get(chargeTo(ctx, w.b.req[kGet]), key, coordinator.Options{})
	w.record(kGet, intended, start, err)
	if err == nil {
		w.b.ctxs.Store(key, res.Context)
	}
	return res, err
}

func (w *worker) put(ctx context.Context, kind, key, token string, wq int, intended time.Time) error {
	val := coordinator.Value{Data: w.value(), ContentType: "application/octet-stream"}
	start := time.Now()
	if intended.IsZero() {
		intended = start
	}
	res, err := w.b.coord.Put(chargeTo(ctx, w.b.req[kind]), key, token, val, coordinator.Options{W: wq})
	w.record(kind, intended, start, err)
	if err == nil {
		w.b.ctxs.Store(key, res.Context)
	}
	return err
}

// do runs one operation of the given kind scheduled at intended.
func (w *worker) do(ctx context.Context, kind string, intended time.Time) {
	b := w.b
	key := recordKey(w.keys.Next())
	switch kind {
	case kGet:
		_, _ = w.get(ctx, key, intended)
	case kUpdate:
		_ = w.put(ctx, kUpdate, key, w.cachedContext(key), 0, intended)
	case kRMW, kPut33:
		start := time.Now()
		g, err := w.get(ctx, key, intended)
		if err == nil {
			// The put's own latency runs from its own start: it follows the get
			// at once, so it cannot be behind schedule.
			putKind, wq := kRMWPut, 0
			if kind == kPut33 {
				putKind, wq = kPut33, replN
			}
			err = w.put(ctx, putKind, key, g.Context, wq, time.Time{})
		}
		if kind == kRMW {
			w.record(kRMW, intended, start, err)
		}
	case kBlindPut:
		w.seq++
		fresh := fmt.Sprintf("new/%s/w%d/%d", b.runID, w.id, w.seq)
		_ = w.put(ctx, kBlindPut, fresh, "", 0, intended)
	default:
		w.doRaw(ctx, kind, key, intended)
	}
}

func (w *worker) doRaw(ctx context.Context, kind, key string, intended time.Time) {
	b := w.b
	reps := b.replicasFor(key)
	req := b.req[kind]
	var val []byte
	if kind == kRawPut || kind == kRawFanPut || kind == kRawFanPut33 {
		val = w.value()
	}
	start := time.Now()
	var err error
	var n int
	switch kind {
	case kRawGet:
		err = getObject(ctx, reps[0], rawReadName(key))
		req.get.Add(1)
	case kRawFanGet:
		n, err = fanGet(ctx, &b.bg, reps, rawReadName(key), replR)
		req.get.Add(int64(n))
	case kRawHedgedGet:
		n, err = hedgedGet(ctx, &b.bg, reps, rawReadName(key), replR, b.hedge)
		req.get.Add(int64(n))
	case kRawPut:
		n, err = w.raw.put(ctx, reps[0], 0, rawWriteName(w.id, key), val)
		req.put.Add(int64(n))
	case kRawFanPut:
		n, err = fanPut(ctx, &b.bg, w.raw, reps, rawWriteName(w.id, key), val, replW)
		req.put.Add(int64(n))
	case kRawFanPut33:
		n, err = fanPut(ctx, &b.bg, w.raw, reps, rawWriteName(w.id, key), val, replN)
		req.put.Add(int64(n))
	default:
		panic("bench: unknown kind " + kind)
	}
	w.record(kind, intended, start, err)
}
