package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/funcurl"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
)

// urlPath serves function URLs for clients that cannot resolve their host
// names: /_lambdad/url/<url id>/<path>.
const urlPath = "/_lambdad/url/"

// urlHost reports whether host is a function URL's, <id>.lambda-url.<region>.<anything>.
func urlHost(host string) (string, bool) {
	id, rest, ok := strings.Cut(host, ".")
	if !ok || !strings.HasPrefix(rest, "lambda-url.") || len(id) != 32 {
		return "", false
	}
	return id, true
}

// URL host forms (--function-url-host).
const (
	// URLHostLocalhost is AWS's form under .localhost, which curl and
	// browsers resolve to loopback but getaddrinfo (Python, Node) does not.
	URLHostLocalhost = "localhost"
	// URLHostPath is http://<the address the API was reached at>/_lambdad/url/<id>/,
	// which resolves wherever the API does.
	URLHostPath = "path"
)

// urlBase makes the URL of a function URL id, in the configured form (a
// domain d gives <id>.lambda-url.<region>.<d>), on the port the API was
// reached at.
func (h *Handler) urlBase(ctx context.Context) func(id, region string) string {
	base := baseURL(ctx)
	domain := h.cfg.URLHost
	switch domain {
	case "", URLHostLocalhost:
		domain = "localhost"
	case URLHostPath:
		return func(id, _ string) string { return base + urlPath + id + "/" }
	}
	u, err := url.Parse(base)
	port := ""
	if err == nil {
		port = u.Port()
	}
	scheme := "http"
	if err == nil && u.Scheme != "" {
		scheme = u.Scheme
	}
	return func(id, region string) string {
		host := id + ".lambda-url." + region + "." + domain
		if port != "" {
			host = net.JoinHostPort(host, port)
		}
		return scheme + "://" + host + "/"
	}
}

func (h *Handler) registerURLs() {
	s := h.svc
	fs := h.cfg.Functions
	awsproto.On(s, "CreateFunctionUrlConfig", func(ctx context.Context, id caller.Identity, in *spec.CreateFunctionUrlConfigRequest) (*spec.CreateFunctionUrlConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		c, err := fs.CreateURL(ctx, ref, in, h.urlBase(ctx))
		if err != nil {
			return nil, err
		}
		// InvokeMode is in the answer when the request gave it, as AWS's
		// streaming examples show [?: not confirmed for BUFFERED].
		return &spec.CreateFunctionUrlConfigResponse{FunctionUrl: c.FunctionUrl, FunctionArn: c.FunctionArn, AuthType: c.AuthType, Cors: c.Cors, CreationTime: c.CreationTime, InvokeMode: in.InvokeMode}, nil
	})
	awsproto.On(s, "GetFunctionUrlConfig", func(ctx context.Context, id caller.Identity, in *spec.GetFunctionUrlConfigRequest) (*spec.GetFunctionUrlConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		c, err := fs.GetURL(ctx, ref, h.urlBase(ctx))
		if err != nil {
			return nil, err
		}
		return &spec.GetFunctionUrlConfigResponse{FunctionUrl: c.FunctionUrl, FunctionArn: c.FunctionArn, AuthType: c.AuthType, Cors: c.Cors,
			CreationTime: c.CreationTime, LastModifiedTime: c.LastModifiedTime, InvokeMode: c.InvokeMode}, nil
	})
	awsproto.On(s, "UpdateFunctionUrlConfig", func(ctx context.Context, id caller.Identity, in *spec.UpdateFunctionUrlConfigRequest) (*spec.UpdateFunctionUrlConfigResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		c, err := fs.UpdateURL(ctx, ref, in, h.urlBase(ctx))
		if err != nil {
			return nil, err
		}
		return &spec.UpdateFunctionUrlConfigResponse{FunctionUrl: c.FunctionUrl, FunctionArn: c.FunctionArn, AuthType: c.AuthType, Cors: c.Cors,
			CreationTime: c.CreationTime, LastModifiedTime: c.LastModifiedTime}, nil
	})
	awsproto.On(s, "DeleteFunctionUrlConfig", func(ctx context.Context, id caller.Identity, in *spec.DeleteFunctionUrlConfigRequest) (spec.Output, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return nil, fs.DeleteURL(ctx, ref)
	})
	awsproto.On(s, "ListFunctionUrlConfigs", func(ctx context.Context, id caller.Identity, in *spec.ListFunctionUrlConfigsRequest) (*spec.ListFunctionUrlConfigsResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		return fs.ListURLs(ctx, ref.Unqualified(), in.Marker, in.MaxItems, h.urlBase(ctx))
	})
}

// serveURL answers a request to a function URL by invoking its function.
func (h *Handler) serveURL(w http.ResponseWriter, r *http.Request, id, path string) {
	requestID := ids.UUID()
	ctx := awsproto.WithRequestID(r.Context(), requestID)
	w.Header().Set("X-Amzn-Requestid", requestID)
	target, err := h.cfg.Functions.URL(ctx, id)
	if err != nil || target == nil || h.cfg.Invoker == nil {
		funcurl.WriteError(w, http.StatusNotFound, "Not Found")
		return
	}
	if cors(w, r, target.Config.Cors) {
		return // a CORS preflight is answered without invoking
	}
	if target.Config.AuthType == "AWS_IAM" {
		// Without configured credentials lambdad can only check that the
		// request is signed; with them it checks the signature.
		signed := strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
		if signed && h.cfg.Credentials != nil {
			signed = awsproto.VerifySignature(r, h.cfg.Credentials, time.Now()) == nil
		}
		if !signed {
			funcurl.WriteError(w, http.StatusForbidden, "Forbidden")
			return
		}
	}
	// A URL's request becomes an Invoke payload: the same limit.
	const maxBody = limits.InvokeRequestBytes
	if r.ContentLength > maxBody {
		funcurl.WriteError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	// Bodies in flight share the API's memory budget (chunked ones reserve
	// the most they may be).
	need := r.ContentLength
	if need < 0 {
		need = maxBody
	}
	release, err := h.svc.ReserveBody(ctx, need)
	if err != nil {
		funcurl.WriteError(w, http.StatusTooManyRequests, "Rate Exceeded.")
		return
	}
	defer release()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		funcurl.WriteError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	event, _ := funcurl.NewEvent(r, body, id, path, requestID, time.Now()).Encode()
	if si, ok := h.cfg.Invoker.(StreamInvoker); ok && target.Config.InvokeMode == "RESPONSE_STREAM" {
		h.serveURLStream(ctx, w, si, target.Ref, id, event, requestID)
		return
	}
	res, err := h.cfg.Invoker.Invoke(ctx, target.Ref, event, invoke.Options{RequestID: requestID})
	if err != nil {
		if fault.Is(err, fault.TooManyRequests) {
			funcurl.WriteError(w, http.StatusTooManyRequests, "Rate Exceeded.")
			return
		}
		h.cfg.Logger.Warn("function URL invoke", "url", id, "err", err)
		funcurl.WriteError(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	if res.FunctionError != "" {
		funcurl.WriteError(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	funcurl.WriteResponse(w, res.Payload)
}

// cors applies a URL's CORS settings; it reports whether r was a preflight
// it answered.
func cors(w http.ResponseWriter, r *http.Request, c *spec.Cors) bool {
	origin := r.Header.Get("Origin")
	if c == nil || origin == "" {
		return false
	}
	if !slices.Contains(c.AllowOrigins, "*") && !slices.Contains(c.AllowOrigins, origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	if c.AllowCredentials != nil && *c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	if len(c.AllowMethods) > 0 {
		h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
	}
	if len(c.AllowHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
	}
	if c.MaxAge != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(*c.MaxAge)))
	}
	w.WriteHeader(http.StatusOK)
	return true
}
