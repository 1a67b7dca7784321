package repair

import (
	"testing"
	"time"
)

// On a store whose ETags are not MD5s (S3 Express One Zone directory
// buckets), replicas holding the same bytes have different ETags. Anti-
// entropy then finds every key different; it must see by content that the
// replicas agree (writing nothing), and still reap a deleted key, which used
// to need identical ETags. A live key is kept.
func TestRepairWithUniqueETags(t *testing.T) {
	h := newHarness(t, 5)
	h.store.UniqueETags()
	h.put("gone", "v")
	h.put("kept", "v")
	h.del("gone")
	h.clock.Advance(2 * time.Hour)
	rep := h.run(h.repairer())
	if rep.AntiEntropy.Writes != 0 {
		t.Errorf("converged replicas were rewritten: %d writes", rep.AntiEntropy.Writes)
	}
	if rep.AntiEntropy.Reaped != 1 || rep.Errors != 0 {
		t.Fatalf("anti-entropy on unique ETags: %+v, %d errors", rep.AntiEntropy, rep.Errors)
	}
	for _, id := range h.primaries("gone") {
		if _, ok := h.raw(id, "gone"); ok {
			t.Errorf("%s still holds the deleted key", id)
		}
	}
	for _, id := range h.primaries("kept") {
		if _, ok := h.raw(id, "kept"); !ok {
			t.Errorf("%s lost the live key", id)
		}
	}
}
