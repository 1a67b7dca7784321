package httpapi

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/cartwheel/cartwheel/client"
)

// The dashboard: plain HTML, CSS and JavaScript embedded in the binary (no
// build step, nothing fetched from the network). GET /ui serves the page; its
// assets are at /ui/{name}, and it calls the admin API relative to its own
// URL (admin/...), so it works behind an API Gateway stage prefix too.

//go:embed ui
var uiEmbedded embed.FS

// uiFiles is the file tree /ui serves (tests replace it).
var uiFiles fs.FS = mustSub(uiEmbedded, "ui")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded: cannot happen
	}
	return sub
}

// uiTypes are the content types of the asset kinds the dashboard uses;
// others come from the mime package.
var uiTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
}

func uiContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := uiTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// textual reports whether a body of this type can travel as a plain string.
func textual(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") || strings.HasPrefix(ctype, "image/svg+xml")
}

// uiCSP keeps the page to its own origin: no inline script or style, no
// third-party anything.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (h *Handler) ui(method, p string, req events.APIGatewayV2HTTPRequest) Response {
	if method != http.MethodGet && method != http.MethodHead {
		return methodNotAllowed("GET, HEAD")
	}
	name := strings.TrimPrefix(p, "/ui")
	switch name {
	case "":
		name = "index.html"
	case "/", "/index.html":
		// One URL for the page, so its relative links (ui/app.js, admin/...)
		// resolve the same way.
		return Response{StatusCode: http.StatusFound, Headers: map[string]string{"Location": "../ui", "Cache-Control": "no-cache"}}
	default:
		n, err := url.PathUnescape(strings.TrimPrefix(name, "/"))
		if err != nil || !fs.ValidPath(n) {
			return errorResponse(http.StatusNotFound, client.CodeNoRoute, "no such dashboard file")
		}
		name = n
	}
	body, err := fs.ReadFile(uiFiles, name)
	if err != nil {
		return errorResponse(http.StatusNotFound, client.CodeNoRoute, "no such dashboard file")
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	ctype := uiContentType(name)
	headers := map[string]string{
		"Content-Type":           ctype,
		"Cache-Control":          "no-cache", // revalidate: a deploy changes the files
		"ETag":                   etag,
		"X-Content-Type-Options": "nosniff",
	}
	if strings.HasPrefix(ctype, "text/html") {
		headers["Content-Security-Policy"] = uiCSP
		headers["Referrer-Policy"] = "no-referrer"
		headers["X-Frame-Options"] = "DENY"
	}
	if inm := header(req, "If-None-Match"); inm != "" && strings.Contains(inm, etag) {
		return Response{StatusCode: http.StatusNotModified, Headers: headers}
	}
	if textual(ctype) && utf8.Valid(body) {
		return Response{StatusCode: http.StatusOK, Headers: headers, Body: string(body)}
	}
	return Response{StatusCode: http.StatusOK, Headers: headers, Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true}
}
