package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
)

// Caller names who made a request, for the logs: the IAM principal's ARN
// (routes with AWS_IAM), "jwt:" and the token's sub (DataApiAuth=jwt),
// "local:" and the client's address (the local server), or "anonymous".
func Caller(req events.APIGatewayV2HTTPRequest) string {
	if a := req.RequestContext.Authorizer; a != nil {
		if a.IAM != nil && a.IAM.UserARN != "" {
			return a.IAM.UserARN
		}
		if a.JWT != nil && a.JWT.Claims["sub"] != "" {
			return "jwt:" + a.JWT.Claims["sub"]
		}
	}
	if strings.HasPrefix(req.RequestContext.RequestID, "local-") {
		return "local:" + req.RequestContext.HTTP.SourceIP
	}
	return "anonymous"
}

// adminAuthorized refuses (403) a request for an AuthAdmin route when the
// handler requires IAM (deployed) and API Gateway did not match it to that
// route or no IAM principal signed it: a path reached through $default
// carries DataApiAuth's authorization (maybe JWT or none), not IAM.
func (h *Handler) adminAuthorized(r Route, req events.APIGatewayV2HTTPRequest) *Response {
	if !h.d.RequireIAMForAdmin || r.Auth != AuthAdmin {
		return nil
	}
	a := req.RequestContext.Authorizer
	if req.RouteKey == r.Key() && a != nil && a.IAM != nil && a.IAM.UserARN != "" {
		return nil
	}
	resp := errorResponse(http.StatusForbidden, client.CodeForbidden,
		"the admin API and the dashboard need their own route ("+r.Key()+") and an IAM (SigV4) signature")
	return &resp
}

// logAdminAction logs an admin request that may change something (any
// method but GET and HEAD) at Info, whatever the request log level, with
// its caller: the audit trail of who did what.
func (h *Handler) logAdminAction(ctx context.Context, method, path string, req events.APIGatewayV2HTTPRequest, status int) {
	if !strings.HasPrefix(path, "/admin/") || method == http.MethodGet || method == http.MethodHead {
		return
	}
	h.d.Log.LogAttrs(ctx, slog.LevelInfo, "admin action", slog.String("caller", Caller(req)),
		slog.String("method", method), slog.String("path", path), slog.Int("status", status),
		slog.String("sourceIp", req.RequestContext.HTTP.SourceIP))
}
