// Package api holds one thin handler per Lambda operation: it turns the
// generated request shapes into control- and data-plane calls and their
// results back into response shapes.
package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/capacity"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/esm"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
)

// Config wires the handlers.
type Config struct {
	Functions *functions.Service
	Blobs     *blobs.Store
	Invoker   Invoker // nil: Invoke answers not implemented
	// Secret signs code download links.
	Secret []byte
	// CodeURLTTL is how long a Code.Location link is valid.
	CodeURLTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
	// Metrics, when set, serves /_lambdad/metrics.
	Metrics http.Handler
	// Credentials, when set, switches SigV4 signature checking on.
	Credentials awsproto.Credentials
	// Durable, when set, serves the durable execution operations
	// (durable.go); WakeDurable invokes an execution a callback made ready.
	Durable     *durable.Service
	WakeDurable func(arn string)
	// ChainDurable runs the target of a CHAINED_INVOKE a checkpoint
	// started.
	ChainDurable func(arn string, op durable.Operation)
	// Capacity, when set, serves capacity providers (capacity.go).
	Capacity *capacity.Service
	// ESM, when set, serves event source mappings (esm.go).
	ESM *esm.Service
	// URLHost is the form of function URLs (urls.go): "" or "localhost",
	// "path", or a domain that resolves to lambdad.
	URLHost string
	// Console, when set, serves the web console at GET / and under
	// /_lambdad/console/ (internal/console).
	Console http.Handler
}

// codePath is where Code.Location links are served.
const codePath = "/_lambdad/code/"

// Handler serves the Lambda API and lambdad's own endpoints.
type Handler struct {
	cfg Config
	svc *awsproto.Service
	mux *http.ServeMux
}

// New builds the HTTP handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CodeURLTTL == 0 {
		cfg.CodeURLTTL = 10 * time.Minute
	}
	h := &Handler{cfg: cfg, svc: awsproto.NewService(cfg.Logger), mux: http.NewServeMux()}
	if cfg.Credentials != nil {
		h.svc.VerifyWith(cfg.Credentials)
	}
	h.register()
	h.mux.HandleFunc("GET "+codePath+"{sha}", h.serveCode)
	h.mux.HandleFunc("GET /_lambdad/metrics", h.serveMetrics)
	h.mux.HandleFunc(urlPath+"{id}/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		h.serveURL(w, r, r.PathValue("id"), "/"+r.PathValue("rest"))
	})
	h.mux.HandleFunc("GET /_lambdad/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	if cfg.Console != nil {
		h.mux.Handle("GET /{$}", cfg.Console)
		h.mux.Handle("/_lambdad/console/", cfg.Console)
	}
	h.mux.Handle("/", h.svc)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := urlHost(r.Host); ok {
		h.serveURL(w, r, id, r.URL.Path)
		return
	}
	h.mux.ServeHTTP(w, WithBaseURL(r))
}

// Service exposes the operation dispatcher (for tests of coverage).
func (h *Handler) Service() *awsproto.Service { return h.svc }

func (h *Handler) register() {
	s := h.svc
	fs := h.cfg.Functions
	s.Limit("CreateFunction", awsproto.BodyLimit{Max: limits.CodeRequestBytes, Err: tooLarge("CreateFunction", limits.CodeRequestBytes)})
	s.Limit("UpdateFunctionCode", awsproto.BodyLimit{Max: limits.CodeRequestBytes, Err: tooLarge("UpdateFunctionCode", limits.CodeRequestBytes)})
	s.Limit("Invoke", awsproto.BodyLimit{Max: limits.InvokeRequestBytes, Err: func(int64) error {
		return awsproto.Errorf("RequestTooLargeException", "Request must be smaller than %d bytes for the InvokeFunction operation", limits.InvokeRequestBytes)
	}})

	awsproto.OnUpload(s, "CreateFunction", h.stageZip(), func(ctx context.Context, id caller.Identity, in *spec.CreateFunctionRequest, up awsproto.Upload[*blobs.Writer]) (*spec.FunctionConfiguration, error) {
		if err := zippedLimit(in.Code.ZipFile); err != nil {
			return nil, err
		}
		if err := functions.RefuseHotReloadFromFunction(id, "CreateFunction", *in.FunctionName, in.Code.S3Bucket); err != nil {
			return nil, err
		}
		return fs.Create(ctx, id, in, staged(up))
	})
	awsproto.On(s, "GetFunction", func(ctx context.Context, id caller.Identity, in *spec.GetFunctionRequest) (*spec.GetFunctionResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		f, err := fs.Get(ctx, ref)
		if err != nil {
			return nil, err
		}
		out := &spec.GetFunctionResponse{Configuration: &f.Config, Code: h.codeLocation(ctx, f.Code)}
		if len(f.Tags) > 0 {
			out.Tags = f.Tags
		}
		if f.Reserved != nil {
			out.Concurrency = &spec.Concurrency{ReservedConcurrentExecutions: f.Reserved}
		}
		return out, nil
	})
	awsproto.On(s, "GetFunctionConfiguration", func(ctx context.Context, id caller.Identity, in *spec.GetFunctionConfigurationRequest) (*spec.FunctionConfiguration, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		return fs.GetConfiguration(ctx, ref)
	})
	awsproto.On(s, "ListFunctions", func(ctx context.Context, id caller.Identity, in *spec.ListFunctionsRequest) (*spec.ListFunctionsResponse, error) {
		if in.MasterRegion != nil {
			return nil, awsproto.NotImplemented("ListFunctions with MasterRegion (Lambda@Edge)")
		}
		all := in.FunctionVersion != nil && *in.FunctionVersion == "ALL"
		return fs.List(ctx, id, in.Marker, in.MaxItems, all)
	})
	awsproto.On(s, "ListVersionsByFunction", func(ctx context.Context, id caller.Identity, in *spec.ListVersionsByFunctionRequest) (*spec.ListVersionsByFunctionResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		return fs.ListVersions(ctx, ref.Unqualified(), in.Marker, in.MaxItems)
	})
	awsproto.On(s, "PublishVersion", func(ctx context.Context, id caller.Identity, in *spec.PublishVersionRequest) (*spec.FunctionConfiguration, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		if in.PublishTo != nil { // LATEST_PUBLISHED, the model's one value
			return fs.PublishLatest(ctx, ref, in.CodeSha256, in.Description, in.RevisionId)
		}
		return fs.Publish(ctx, ref, in.CodeSha256, in.Description, in.RevisionId)
	})
	awsproto.OnUpload(s, "UpdateFunctionCode", h.stageZip(), func(ctx context.Context, id caller.Identity, in *spec.UpdateFunctionCodeRequest, up awsproto.Upload[*blobs.Writer]) (*spec.FunctionConfiguration, error) {
		if err := zippedLimit(in.ZipFile); err != nil {
			return nil, err
		}
		if err := functions.RefuseHotReloadFromFunction(id, "UpdateFunctionCode", *in.FunctionName, in.S3Bucket); err != nil {
			return nil, err
		}
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		return fs.UpdateCode(ctx, ref, in, staged(up))
	})
	awsproto.On(s, "UpdateFunctionConfiguration", func(ctx context.Context, id caller.Identity, in *spec.UpdateFunctionConfigurationRequest) (*spec.FunctionConfiguration, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		return fs.UpdateConfiguration(ctx, ref, in)
	})
	awsproto.On(s, "DeleteFunction", func(ctx context.Context, id caller.Identity, in *spec.DeleteFunctionRequest) (*spec.DeleteFunctionResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, in.Qualifier)
		if err != nil {
			return nil, err
		}
		if err := fs.Delete(ctx, ref); err != nil {
			return nil, err
		}
		return &spec.DeleteFunctionResponse{StatusCode: ptr(int32(http.StatusNoContent))}, nil
	})
	awsproto.On(s, "TagResource", func(ctx context.Context, id caller.Identity, in *spec.TagResourceRequest) (spec.Output, error) {
		if r, ok, err := h.esmTags(id, *in.Resource); ok || err != nil {
			if err != nil {
				return nil, err
			}
			return nil, h.cfg.ESM.Tag(ctx, r, in.Tags, nil)
		}
		if r, ok, err := h.capacityTags(id, *in.Resource); ok || err != nil {
			if err == nil && len(in.Tags) == 0 {
				err = awsproto.InvalidParameter("An error occurred and the request cannot be processed.")
			}
			if err != nil {
				return nil, err
			}
			return nil, h.cfg.Capacity.Tag(ctx, r, in.Tags, nil)
		}
		if functions.IsCodeSigningARN(*in.Resource) {
			if len(in.Tags) == 0 {
				return nil, awsproto.InvalidParameter("An error occurred and the request cannot be processed.")
			}
			return nil, fs.TagCodeSigning(ctx, id, *in.Resource, in.Tags, nil)
		}
		return nil, fs.Tag(ctx, id, *in.Resource, in.Tags)
	})
	awsproto.On(s, "UntagResource", func(ctx context.Context, id caller.Identity, in *spec.UntagResourceRequest) (spec.Output, error) {
		if in.TagKeys == nil {
			return nil, awsproto.ValidationError([]string{awsproto.ConstraintMessage(nil, "tagKeys", "Member must not be null")})
		}
		if r, ok, err := h.esmTags(id, *in.Resource); ok || err != nil {
			if err != nil {
				return nil, err
			}
			return nil, h.cfg.ESM.Tag(ctx, r, nil, in.TagKeys)
		}
		if r, ok, err := h.capacityTags(id, *in.Resource); ok || err != nil {
			if err != nil {
				return nil, err
			}
			return nil, h.cfg.Capacity.Tag(ctx, r, nil, in.TagKeys)
		}
		if functions.IsCodeSigningARN(*in.Resource) {
			return nil, fs.TagCodeSigning(ctx, id, *in.Resource, nil, in.TagKeys)
		}
		return nil, fs.Untag(ctx, id, *in.Resource, in.TagKeys)
	})
	awsproto.On(s, "ListTags", func(ctx context.Context, id caller.Identity, in *spec.ListTagsRequest) (*spec.ListTagsResponse, error) {
		if r, ok, err := h.esmTags(id, *in.Resource); ok || err != nil {
			if err != nil {
				return nil, err
			}
			tags, err := h.cfg.ESM.Tags(ctx, r)
			if err != nil {
				return nil, err
			}
			return &spec.ListTagsResponse{Tags: tags}, nil
		}
		if r, ok, err := h.capacityTags(id, *in.Resource); ok || err != nil {
			if err != nil {
				return nil, err
			}
			tags, err := h.cfg.Capacity.Tags(ctx, r)
			if err != nil {
				return nil, err
			}
			return &spec.ListTagsResponse{Tags: tags}, nil
		}
		var tags map[string]string
		var err error
		if functions.IsCodeSigningARN(*in.Resource) {
			tags, err = fs.CodeSigningTags(ctx, id, *in.Resource)
		} else {
			tags, err = fs.Tags(ctx, id, *in.Resource)
		}
		if err != nil {
			return nil, err
		}
		return &spec.ListTagsResponse{Tags: tags}, nil
	})
	awsproto.On(s, "GetAccountSettings", func(ctx context.Context, id caller.Identity, in *spec.GetAccountSettingsRequest) (*spec.GetAccountSettingsResponse, error) {
		return fs.AccountSettings(ctx, id)
	})
	awsproto.On(s, "PutFunctionConcurrency", func(ctx context.Context, id caller.Identity, in *spec.PutFunctionConcurrencyRequest) (*spec.Concurrency, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		return fs.PutConcurrency(ctx, ref, *in.ReservedConcurrentExecutions)
	})
	awsproto.On(s, "GetFunctionConcurrency", func(ctx context.Context, id caller.Identity, in *spec.GetFunctionConcurrencyRequest) (*spec.GetFunctionConcurrencyResponse, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		n, err := fs.GetConcurrency(ctx, ref)
		if err != nil {
			return nil, err
		}
		return &spec.GetFunctionConcurrencyResponse{ReservedConcurrentExecutions: n}, nil
	})
	awsproto.On(s, "DeleteFunctionConcurrency", func(ctx context.Context, id caller.Identity, in *spec.DeleteFunctionConcurrencyRequest) (spec.Output, error) {
		ref, err := functions.ParseRef(id, *in.FunctionName, nil)
		if err != nil {
			return nil, err
		}
		return nil, fs.DeleteConcurrency(ctx, ref)
	})
	h.registerLayers()
	h.registerLayerPermissions()
	h.registerCodeSigning()
	h.registerAbsent()
	h.registerDurable()
	h.registerSubresources()
	h.registerProvisioned()
	h.registerURLs()
	h.registerCapacity()
	h.registerESM()
	h.registerRecursion()
	h.registerRuntimeManagement()
	h.registerResourcePolicies()
	h.registerDurableDelete()
	h.registerDurablePause()
	if h.cfg.Invoker != nil {
		awsproto.On(s, "Invoke", h.invoke)
		awsproto.On(s, "InvokeAsync", h.invokeAsync)
		h.registerStream()
	}
}

func ptr[T any](v T) *T { return &v }

func tooLarge(op string, max int64) func(int64) error {
	return func(int64) error {
		return awsproto.Errorf("RequestEntityTooLargeException", "Request must be smaller than %d bytes for the %s operation", max, op).WithStatus(http.StatusRequestEntityTooLarge)
	}
}

// stageZip is the sink of uploaded zips: a zip is hashed and written to the
// blob store while its request is decoded (nil without a store).
func (h *Handler) stageZip() func(context.Context) (*blobs.Writer, error) {
	if h.cfg.Blobs == nil {
		return nil
	}
	return h.cfg.Blobs.NewWriter
}

// staged hands a zip written while its request was read to functions, which
// commits it instead of writing it again; awsproto discards it otherwise.
func staged(up awsproto.Upload[*blobs.Writer]) functions.StagedZip {
	if !up.Streamed {
		return nil // not a typed nil: functions tests for nil
	}
	return up.Writer
}

// zippedLimit is AWS's limit on a zip uploaded in the request itself.
func zippedLimit(zip []byte) error {
	if len(zip) > limits.ZippedCodeBytes {
		return awsproto.Errorf("RequestEntityTooLargeException", "Zipped size must be smaller than %d bytes", limits.ZippedCodeBytes).WithStatus(http.StatusRequestEntityTooLarge)
	}
	return nil
}

// codeLocation is GetFunction's Code: a link lambdad serves itself, signed
// and valid for CodeURLTTL.
func (h *Handler) codeLocation(ctx context.Context, c functions.Code) *spec.FunctionCodeLocation {
	if c.ImageURI != "" {
		return &spec.FunctionCodeLocation{RepositoryType: ptr("ECR"), ImageUri: ptr(c.ImageURI), ResolvedImageUri: ptr(c.ImageURI)}
	}
	out := &spec.FunctionCodeLocation{RepositoryType: ptr("S3")}
	if c.SHA256Hex == "" {
		return out
	}
	base := baseURL(ctx)
	exp := strconv.FormatInt(h.cfg.Now().Add(h.cfg.CodeURLTTL).Unix(), 10)
	out.Location = ptr(base + codePath + c.SHA256Hex + "?expires=" + exp + "&signature=" + h.sign(c.SHA256Hex, exp))
	return out
}

func (h *Handler) sign(sha, exp string) string {
	m := hmac.New(sha256.New, h.cfg.Secret)
	io.WriteString(m, sha+"\n"+exp)
	return hex.EncodeToString(m.Sum(nil))
}

func (h *Handler) serveCode(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	exp := r.URL.Query().Get("expires")
	sig := r.URL.Query().Get("signature")
	deny := func(msg string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>"+msg+"</Message></Error>")
	}
	if !hmac.Equal([]byte(sig), []byte(h.sign(sha, exp))) {
		deny("Signature does not match.")
		return
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || h.cfg.Now().Unix() > e {
		deny("Request has expired")
		return
	}
	f, err := h.cfg.Blobs.OpenContext(r.Context(), sha) // with --blobs, may fetch from S3
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/zip")
	http.ServeContent(w, r, sha+".zip", time.Time{}, f)
}

type baseKey struct{}

// WithBaseURL records the scheme and host the request came to, so links
// point back at the address the client used.
func WithBaseURL(r *http.Request) *http.Request {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return r.WithContext(context.WithValue(r.Context(), baseKey{}, scheme+"://"+r.Host))
}

func baseURL(ctx context.Context) string {
	if s, ok := ctx.Value(baseKey{}).(string); ok {
		return strings.TrimSuffix(s, "/")
	}
	return "http://127.0.0.1:9001"
}
