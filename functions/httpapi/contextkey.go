package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// rotateContextKey serves POST /admin/context-key/rotate: a new random
// context key signs every new context; contexts signed with the previous one
// are accepted for kv.ContextKeyGrace, and so are those of every key retired
// less than kv.ContextKeyGrace ago ("older"), then answer 400 bad_context. The
// answer names the key ids and the end of the grace period, never a secret.
func (h *Handler) rotateContextKey(ctx context.Context) Response {
	secret := kv.NewContextSecret()
	now := time.Now()
	_, next, bad := h.saveCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) {
		return membership.RotateContextKey(c, secret, now)
	})
	if bad != nil {
		return *bad
	}
	k := next.ContextKeys
	out := map[string]any{"epoch": next.Epoch, "current": k.Current.ID}
	if k.Previous != nil {
		out["previous"] = k.Previous.ID
		out["previousAcceptedUntil"] = time.UnixMilli(k.Current.Created).Add(kv.ContextKeyGrace).UTC().Format(time.RFC3339)
	}
	if len(k.Older) > 0 {
		older := map[string]string{} // key id: accepted until
		for _, o := range k.Older {
			older[fmt.Sprint(o.ID)] = time.UnixMilli(o.Retired).Add(kv.ContextKeyGrace).UTC().Format(time.RFC3339)
		}
		out["older"] = older
	}
	return jsonResponse(http.StatusOK, out)
}
