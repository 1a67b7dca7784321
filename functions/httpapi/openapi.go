package httpapi

import (
	"context"
	_ "embed" // the OpenAPI document
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// OpenAPI is the OpenAPI 3.1 document of the data and admin APIs, served at
// GET /openapi.json. TestOpenAPIMatchesRoutes keeps it equal to the route
// tables (every route, method, query parameter, header and error code), and
// TestResponsesMatchOpenAPI validates real answers against it.
//
//go:embed openapi.json
var OpenAPI []byte

// openAPIRoute serves the document. Deployed it is authorized as the data
// routes are (DataApiAuth): nothing answers an anonymous caller unless the
// user opted in.
func openAPIRoute(_ *Handler, _ context.Context, _, _ string, _ map[string]string, _ events.APIGatewayV2HTTPRequest) Response {
	return Response{StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(OpenAPI)}
}
