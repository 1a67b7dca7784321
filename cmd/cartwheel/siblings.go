package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	api "github.com/cartwheel/cartwheel/client"
)

// listingJSON is the get answer for a sibling set too large for one Lambda
// response: ids and sizes instead of values (see functions/httpapi/payload.go).
type listingJSON = api.Listing

// fillOmitted completes a get answered as a listing: it fetches each
// sibling's value alone (GET /kv/{key}?sibling=<id>) into g, keeping the
// listing's context, which covers them all. A listing-free answer is left as
// it is.
func (c *client) fillOmitted(key string, q quorumFlags, body []byte, g *getJSON) error {
	var l listingJSON
	if json.Unmarshal(body, &l) != nil || !l.ValuesOmitted {
		return nil
	}
	g.Siblings = g.Siblings[:0]
	for _, s := range l.Siblings {
		query := q.values()
		query.Set(api.ParamSibling, s.ID)
		resp, b, err := c.do(http.MethodGet, keyPath(key), query, nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			if resp.StatusCode == http.StatusNotFound {
				return fail(exitError, "%s changed while its %d siblings were read one by one; get it again", key, len(l.Siblings))
			}
			return apiError(resp, b)
		}
		g.Siblings = append(g.Siblings, siblingJSON{Value: base64.StdEncoding.EncodeToString(b), ContentType: s.ContentType, Timestamp: s.Timestamp, Expires: s.Expires})
	}
	return nil
}
