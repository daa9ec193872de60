// Package funcurl turns HTTP requests to a function URL into Lambda's
// payload format 2.0 event, and a function's result back into the HTTP
// response, as AWS's function URLs do.
package funcurl

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Event is the payload format 2.0 event a function URL sends, in the shape
// aws-lambda-go gives it (events.LambdaFunctionURLRequest), which Go
// functions decode it into. Its JSON (Encode) adds what AWS sends and that
// shape leaves out.
type Event events.LambdaFunctionURLRequest

// routeKey is API Gateway's routeKey and stage, which a function URL's
// event carries with this fixed value.
const routeKey = "$default"

// Encode is the event's JSON as AWS sends it: aws-lambda-go's members plus
// routeKey at the top and routeKey and stage in requestContext, which
// events.LambdaFunctionURLRequest does not have but functions written
// against API Gateway's 2.0 format read.
func (e *Event) Encode() ([]byte, error) {
	type members events.LambdaFunctionURLRequest // without this method
	return json.Marshal(struct {
		*members
		RouteKey string `json:"routeKey"`
		// Shadows the embedded requestContext, to add to it.
		RequestContext requestContext `json:"requestContext"`
	}{(*members)(e), routeKey, requestContext{e.RequestContext, routeKey, routeKey}})
}

// MarshalJSON is Encode, so that the event marshals as AWS's however it is.
func (e *Event) MarshalJSON() ([]byte, error) { return e.Encode() }

type requestContext struct {
	events.LambdaFunctionURLRequestContext
	RouteKey string `json:"routeKey"`
	Stage    string `json:"stage"`
}

// NewEvent builds the event for r, whose path is path (the URL's own path,
// without any lambdad prefix).
func NewEvent(r *http.Request, body []byte, urlID, path, requestID string, now time.Time) *Event {
	e := &Event{Version: "2.0", RawPath: path, RawQueryString: r.URL.RawQuery, Headers: map[string]string{}}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						e.Cookies = append(e.Cookies, c)
					}
				}
			}
			continue
		}
		e.Headers[lk] = strings.Join(vs, ",")
	}
	e.Headers["host"] = r.Host
	if q := r.URL.Query(); len(q) > 0 {
		e.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			e.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(body) > 0 {
		if utf8.Valid(body) && !isBinary(r.Header.Get("Content-Type")) {
			e.Body = string(body)
		} else {
			e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	host, _, _ := strings.Cut(r.Host, ":")
	e.RequestContext = events.LambdaFunctionURLRequestContext{
		AccountID: "anonymous", APIID: urlID, DomainName: host, DomainPrefix: urlID,
		HTTP:      events.LambdaFunctionURLRequestContextHTTPDescription{Method: r.Method, Path: path, Protocol: r.Proto, SourceIP: ip, UserAgent: r.UserAgent()},
		RequestID: requestID,
		Time:      now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
	}
	return e
}

func isBinary(contentType string) bool {
	ct := strings.ToLower(contentType)
	for _, textual := range []string{"text/", "json", "xml", "javascript", "x-www-form-urlencoded", "yaml"} {
		if strings.Contains(ct, textual) {
			return false
		}
	}
	return ct != ""
}

// response is the structured result a function may return: aws-lambda-go's
// events.LambdaFunctionURLResponse, whose int statusCode cannot tell a
// result without one, which AWS answers as a body, from a statusCode 0,
// which AWS refuses; so a pointer shadows it.
type response struct {
	events.LambdaFunctionURLResponse
	StatusCode *int `json:"statusCode"`
}

// WriteResponse writes a function's result as AWS does: a JSON object with
// statusCode is taken apart; anything else is the body of a 200 JSON reply.
func WriteResponse(w http.ResponseWriter, payload []byte) {
	var resp response
	if len(payload) > 0 && payload[0] == '{' && json.Unmarshal(payload, &resp) == nil && resp.StatusCode != nil {
		if c := *resp.StatusCode; c < 100 || c > 999 {
			// net/http cannot send it; the function's answer is invalid.
			WriteError(w, http.StatusBadGateway, "Internal Server Error")
			return
		}
		writeStructured(w, &resp)
		return
	}
	body := payload
	var s string
	if len(payload) > 0 && payload[0] == '"' && json.Unmarshal(payload, &s) == nil {
		body = []byte(s) // a returned string is the body itself
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func writeStructured(w http.ResponseWriter, r *response) {
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.Header().Set(k, r.Headers[k])
	}
	for _, c := range r.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(r.Body)
	if r.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(r.Body); err == nil {
			body = b
		}
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(*r.StatusCode)
	w.Write(body)
}

// WriteError answers as a function URL does when the function fails.
func WriteError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"Message": message})
	w.Write(b)
}
