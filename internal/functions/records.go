package functions

import (
	"time"

	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
)

// record is one function: its $LATEST version and function-level settings.
// Published versions are kept apart, one record each. It is stored as
// storedFunction (schema.go).
type record struct {
	Latest      version
	Tags        map[string]string
	LastVersion int // highest number ever published: never reused
	LastPublish *publishMark
	Reserved    *int32
	Recursion   string // "" or RecursionAllow (recursion.go)
}

// publishMark identifies what the last published version was made from, so
// publishing again without a change returns it. Stored as is.
type publishMark struct {
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// Transition kinds: what a version shows while its transition lasts.
const (
	transCreate  = "create"  // State Pending / Creating
	transUpdate  = "update"  // LastUpdateStatus InProgress
	transPublish = "publish" // a new version: State Pending
)

// version is one version's configuration, stored as storedVersion
// (schema.go). The State and LastUpdateStatus fields are not stored: they
// follow from the transition (kind, until) and the clock, so no timer is
// needed and a restart keeps them.
type version struct {
	Config spec.FunctionConfiguration
	Code   Code
	// Layers is the code of the layers the configuration lists, in order.
	Layers []Code
	Trans  string
	Until  time.Time
	// NextRevision is the RevisionId once the transition completes.
	NextRevision string
	// RuntimeUpdate is PutRuntimeManagementConfig's UpdateRuntimeOn ("" is
	// Auto; runtimemgmt.go).
	RuntimeUpdate string
}

// Code is where a version's or layer's code lives (stored as storedCode).
type Code struct {
	SHA256Hex    string `json:"sha256,omitempty"`
	Size         int64  `json:"size"`
	Unzipped     int64  `json:"unzipped,omitempty"`
	HotReloadDir string `json:"hotReload,omitempty"`
	ImageURI     string `json:"imageUri,omitempty"`
}

func (v *version) settled(now time.Time) bool { return v.Trans == "" || !now.Before(v.Until) }

// revision is the RevisionId in effect at now.
func (v *version) revision(now time.Time) string {
	if v.settled(now) && v.NextRevision != "" {
		return v.NextRevision
	}
	return *v.Config.RevisionId
}

// settle folds a finished transition into the stored fields.
func (v *version) settle(now time.Time) {
	if v.Trans != "" && v.settled(now) {
		if v.NextRevision != "" {
			// A copy: the field is cleared below, and the pointer must not
			// see that (it did, and a change made right after a transition
			// ended left the function without a RevisionId).
			next := v.NextRevision
			v.Config.RevisionId = &next
		}
		v.Trans, v.NextRevision = "", ""
	}
}

// begin starts a transition that ends after d with a fresh RevisionId.
func (v *version) begin(kind string, now time.Time, d time.Duration) {
	v.Trans = kind
	v.Until = now.Add(d)
	rev := ids.UUID()
	v.Config.RevisionId = &rev
	v.NextRevision = ids.UUID()
}

// view is the configuration as the API returns it at now.
func (v *version) view(now time.Time) spec.FunctionConfiguration {
	c := v.Config
	rev := v.revision(now)
	c.RevisionId = &rev
	if !v.settled(now) {
		switch v.Trans {
		case transCreate, transPublish:
			c.State = str("Pending")
			c.StateReason = str("The function is being created.")
			c.StateReasonCode = str("Creating")
		case transUpdate:
			c.State = str("Active")
			c.LastUpdateStatus = str("InProgress")
			c.LastUpdateStatusReason = str("The function is being created.")
			c.LastUpdateStatusReasonCode = str("Creating")
		}
		return c
	}
	c.State = str("Active")
	c.LastUpdateStatus = str("Successful")
	return c
}

// listView is how list operations show a version: without state fields.
func (v *version) listView(now time.Time, qualify bool) spec.FunctionConfiguration {
	c := v.view(now)
	c.State, c.StateReason, c.StateReasonCode = nil, nil, nil
	c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = nil, nil, nil
	c.RuntimeVersionConfig = nil
	if qualify && c.Version != nil && *c.Version == Latest {
		c.FunctionArn = str(*c.FunctionArn + ":" + Latest)
	}
	return c
}

// digest identifies a version's code and configuration (see storedVersion.digest).
func (v *version) digest() string {
	s := storeVersion(v)
	return s.digest()
}

func str(s string) *string { return &s }
func i32(n int32) *int32   { return &n }
func i64(n int64) *int64   { return &n }

// lastModified is AWS's LastModified format, e.g. 2019-08-14T22:26:11.234+0000.
func lastModified(t time.Time) *string {
	return str(t.UTC().Format("2006-01-02T15:04:05.000-0700"))
}
