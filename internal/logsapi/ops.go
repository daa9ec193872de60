package logsapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/logs"
	ls "github.com/lambdad/lambdad/internal/spec/logsspec"
)

func pageToken(last string) *string {
	return ptr(base64.RawURLEncoding.EncodeToString([]byte(last)))
}

func afterToken(tok *string) (string, error) {
	if tok == nil {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	if err != nil || len(b) == 0 {
		return "", storeErr(logs.ErrToken)
	}
	return string(b), nil
}

func (h *Handler) describeLogGroups(ctx context.Context, id awsproto.Identity, in *ls.DescribeLogGroupsRequest) (*ls.DescribeLogGroupsResponse, error) {
	if in.LogGroupNamePrefix != nil && in.LogGroupNamePattern != nil {
		// AWS's answer (LocalStack snapshot test_logs_groups:
		// test_describe_log_groups_prefix_and_pattern_error).
		return nil, invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	limit, err := limitOf(in.Limit, 50, "limit")
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 50
	}
	after, err := afterToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ls.DescribeLogGroupsResponse{LogGroups: []ls.LogGroup{}}
	own := logs.KeyPrefix(id.Account, id.Region)
	groups, err := h.store.Groups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		var ok bool
		if g.Name, ok = strings.CutPrefix(g.Name, own); !ok {
			continue // another account's or region's
		}
		switch {
		case after != "" && g.Name <= after,
			in.LogGroupNamePrefix != nil && !strings.HasPrefix(g.Name, *in.LogGroupNamePrefix),
			in.LogGroupNamePattern != nil && !strings.Contains(strings.ToLower(g.Name), strings.ToLower(*in.LogGroupNamePattern)),
			len(in.LogGroupIdentifiers) > 0 && !slices.ContainsFunc(in.LogGroupIdentifiers, func(s string) bool {
				n, _ := groupOf(nil, &s)
				return n == g.Name
			}):
			continue
		}
		if len(out.LogGroups) == limit {
			// The token names the last group returned.
			out.NextToken = pageToken(*out.LogGroups[limit-1].LogGroupName)
			break
		}
		lg := ls.LogGroup{
			LogGroupName:      ptr(g.Name),
			CreationTime:      ptr(g.Created),
			MetricFilterCount: ptr(int32(0)),
			Arn:               ptr(groupARN(id, g.Name) + ":*"),
			StoredBytes:       ptr(g.StoredBytes),
			LogGroupClass:     ptr(ls.LogGroupClassSTANDARD),
			LogGroupArn:       ptr(groupARN(id, g.Name)),
			// AWS answers it (LocalStack snapshot test_logs_groups:
			// test_describe_log_groups_with_prefix); lambdad has none.
			DeletionProtectionEnabled: ptr(false),
		}
		if g.RetentionDays > 0 {
			lg.RetentionInDays = ptr(g.RetentionDays)
		}
		out.LogGroups = append(out.LogGroups, lg)
	}
	return out, nil
}

func (h *Handler) describeLogStreams(ctx context.Context, id awsproto.Identity, in *ls.DescribeLogStreamsRequest) (*ls.DescribeLogStreamsResponse, error) {
	group, err := groupOf(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := limitOf(in.Limit, 50, "limit")
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 50
	}
	byTime := in.OrderBy != nil && *in.OrderBy == ls.OrderByLastEventTime
	if in.OrderBy != nil && !byTime && *in.OrderBy != ls.OrderByLogStreamName {
		// [?]
		return nil, invalid("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", *in.OrderBy)
	}
	if byTime && in.LogStreamNamePrefix != nil {
		// [?]
		return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	after, err := afterToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	streams, err := h.store.Streams(ctx, logs.Key(id.Account, id.Region, group))
	if err != nil {
		return nil, storeErr(err)
	}
	key := func(s logs.StreamInfo) string { return s.Name }
	if byTime {
		key = func(s logs.StreamInfo) string { return sortableTime(s.LastEvent) + "\x00" + s.Name }
	}
	desc := in.Descending != nil && *in.Descending
	sort.SliceStable(streams, func(i, j int) bool {
		if desc {
			return key(streams[i]) > key(streams[j])
		}
		return key(streams[i]) < key(streams[j])
	})
	out := &ls.DescribeLogStreamsResponse{LogStreams: []ls.LogStream{}}
	for _, s := range streams {
		if in.LogStreamNamePrefix != nil && !strings.HasPrefix(s.Name, *in.LogStreamNamePrefix) {
			continue
		}
		if k := key(s); after != "" && ((!desc && k <= after) || (desc && k >= after)) {
			continue
		}
		if len(out.LogStreams) == limit {
			out.NextToken = pageToken(key(streams[slices.IndexFunc(streams, func(x logs.StreamInfo) bool { return x.Name == *out.LogStreams[limit-1].LogStreamName })]))
			break
		}
		st := ls.LogStream{
			LogStreamName: ptr(s.Name),
			CreationTime:  ptr(s.Created),
			Arn:           ptr(groupARN(id, group) + ":log-stream:" + s.Name),
			StoredBytes:   ptr(int64(0)), // deprecated: AWS answers 0 [?]
		}
		if s.LastEvent > 0 {
			st.FirstEventTimestamp = ptr(s.FirstEvent)
			st.LastEventTimestamp = ptr(s.LastEvent)
		}
		if s.LastIngestion > 0 {
			st.LastIngestionTime = ptr(s.LastIngestion)
		}
		out.LogStreams = append(out.LogStreams, st)
	}
	return out, nil
}

// sortableTime orders non-negative numbers as strings.
func sortableTime(t int64) string { return fmt.Sprintf("%019d", t) }

func (h *Handler) getLogEvents(ctx context.Context, id awsproto.Identity, in *ls.GetLogEventsRequest) (*ls.GetLogEventsResponse, error) {
	group, err := groupOf(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamName == nil {
		return nil, required("logStreamName")
	}
	limit, err := limitOf(in.Limit, logs.MaxPageEvents, "limit")
	if err != nil {
		return nil, err
	}
	gi := logs.GetInput{Stream: *in.LogStreamName, Limit: limit, StartFromHead: in.StartFromHead != nil && *in.StartFromHead}
	if in.StartTime != nil {
		gi.Start = *in.StartTime
	}
	if in.EndTime != nil {
		gi.End = *in.EndTime // exclusive, as AWS documents for GetLogEvents
	}
	if in.NextToken != nil {
		gi.Token = *in.NextToken
	}
	page, err := h.store.Get(ctx, logs.Key(id.Account, id.Region, group), gi)
	if err != nil {
		return nil, storeErr(err)
	}
	out := &ls.GetLogEventsResponse{Events: make([]ls.OutputLogEvent, 0, len(page.Events)),
		NextForwardToken: ptr(page.Forward), NextBackwardToken: ptr(page.Backward)}
	for _, e := range page.Events {
		out.Events = append(out.Events, ls.OutputLogEvent{Timestamp: ptr(e.Timestamp), Message: ptr(e.Message), IngestionTime: ptr(e.Ingestion)})
	}
	return out, nil
}

func (h *Handler) filterLogEvents(ctx context.Context, id awsproto.Identity, in *ls.FilterLogEventsRequest) (*ls.FilterLogEventsResponse, error) {
	group, err := groupOf(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != nil {
		// [?]
		return nil, invalid("Cannot specify both logStreamNames and logStreamNamePrefix")
	}
	limit, err := limitOf(in.Limit, logs.MaxPageEvents, "limit")
	if err != nil {
		return nil, err
	}
	fi := logs.FilterInput{Limit: limit}
	fi.Streams = in.LogStreamNames
	if in.LogStreamNamePrefix != nil {
		fi.Prefix = *in.LogStreamNamePrefix
	}
	if in.StartTime != nil {
		fi.Start = *in.StartTime
	}
	if in.EndTime != nil {
		fi.End = *in.EndTime + 1 // FilterLogEvents' endTime is inclusive
	}
	if in.FilterPattern != nil {
		if len(*in.FilterPattern) > 1024 { // the model's FilterPattern max
			// AWS's answer for the same member and shape in PutMetricFilter
			// (LocalStack snapshot test_logs_metric_filters:
			// test_put_metric_filter_invalid_filter_pattern): the value is quoted.
			return nil, invalid("1 validation error detected: Value '%s' at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024", *in.FilterPattern)
		}
		p, err := logs.ParsePattern(*in.FilterPattern)
		if err != nil {
			// [?]
			return nil, invalid("Invalid filter pattern")
		}
		fi.Match = p.Match
	}
	if in.NextToken != nil {
		fi.Token = *in.NextToken
	}
	group = logs.Key(id.Account, id.Region, group)
	page, err := h.store.Filter(ctx, group, fi)
	if err == logs.ErrNoStream {
		err = nil // FilterLogEvents skips streams that do not exist [?]
		fi.Streams = existing(ctx, h.store, group, fi.Streams)
		if len(fi.Streams) == 0 {
			return &ls.FilterLogEventsResponse{Events: []ls.FilteredLogEvent{}, SearchedLogStreams: []ls.SearchedLogStream{}}, nil
		}
		page, err = h.store.Filter(ctx, group, fi)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	out := &ls.FilterLogEventsResponse{Events: make([]ls.FilteredLogEvent, 0, len(page.Events)), SearchedLogStreams: []ls.SearchedLogStream{}}
	for _, e := range page.Events {
		out.Events = append(out.Events, ls.FilteredLogEvent{LogStreamName: ptr(e.Stream), Timestamp: ptr(e.Timestamp),
			Message: ptr(e.Message), IngestionTime: ptr(e.Ingestion), EventId: ptr(eventID(e))})
	}
	if page.Next != "" {
		out.NextToken = ptr(page.Next)
	}
	return out, nil
}

func existing(ctx context.Context, s logs.Logs, group string, names []string) []string {
	all, _ := s.Streams(ctx, group)
	var out []string
	for _, n := range names {
		if slices.ContainsFunc(all, func(x logs.StreamInfo) bool { return x.Name == n }) {
			out = append(out, n)
		}
	}
	return out
}

// eventID is 56 digits, as AWS's: the timestamp, the position in the
// stream and a hash of the stream's name.
func eventID(e logs.Event) string {
	var h uint32 = 2166136261
	for i := 0; i < len(e.Stream); i++ {
		h = (h ^ uint32(e.Stream[i])) * 16777619
	}
	s := sortableTime(e.Timestamp) + sortableTime(e.Ord) + sortableTime(int64(h))
	return s[len(s)-56:]
}

func (h *Handler) createLogGroup(ctx context.Context, id awsproto.Identity, in *ls.CreateLogGroupRequest) (*struct{}, error) {
	if in.LogGroupName == nil {
		return nil, required("logGroupName")
	}
	if err := validGroupName("logGroupName", *in.LogGroupName); err != nil {
		return nil, err
	}
	if in.LogGroupClass != nil && *in.LogGroupClass != ls.LogGroupClassSTANDARD {
		return nil, invalid("lambdad keeps log groups of class STANDARD only") // [?]
	}
	// What lambdad would store without acting on it is refused.
	switch {
	case in.KmsKeyId != nil:
		return nil, awsproto.NotImplemented("CreateLogGroup's kmsKeyId (lambdad does not encrypt logs with KMS keys)")
	case len(in.Tags) > 0:
		return nil, awsproto.NotImplemented("CreateLogGroup's tags (lambdad keeps no tags on log groups)")
	case in.DeletionProtectionEnabled != nil && *in.DeletionProtectionEnabled:
		return nil, awsproto.NotImplemented("CreateLogGroup's deletionProtectionEnabled (lambdad has no deletion protection)")
	}
	return &struct{}{}, storeErr(h.store.CreateGroup(ctx, logs.Key(id.Account, id.Region, *in.LogGroupName)))
}

func (h *Handler) deleteLogGroup(ctx context.Context, id awsproto.Identity, in *ls.DeleteLogGroupRequest) (*struct{}, error) {
	if in.LogGroupName == nil {
		return nil, required("logGroupName")
	}
	return &struct{}{}, storeErr(h.store.DeleteGroup(ctx, logs.Key(id.Account, id.Region, *in.LogGroupName)))
}

// retentionDays are the values PutRetentionPolicy accepts (the model's
// Days documentation).
var retentionDays = []int32{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

func (h *Handler) putRetentionPolicy(ctx context.Context, id awsproto.Identity, in *ls.PutRetentionPolicyRequest) (*struct{}, error) {
	if in.LogGroupName == nil {
		return nil, required("logGroupName")
	}
	if in.RetentionInDays == nil {
		return nil, required("retentionInDays")
	}
	if !slices.Contains(retentionDays, *in.RetentionInDays) {
		// [?]
		return nil, invalid("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]", *in.RetentionInDays)
	}
	return &struct{}{}, storeErr(h.store.SetRetention(ctx, logs.Key(id.Account, id.Region, *in.LogGroupName), *in.RetentionInDays))
}

func (h *Handler) deleteRetentionPolicy(ctx context.Context, id awsproto.Identity, in *ls.DeleteRetentionPolicyRequest) (*struct{}, error) {
	if in.LogGroupName == nil {
		return nil, required("logGroupName")
	}
	return &struct{}{}, storeErr(h.store.SetRetention(ctx, logs.Key(id.Account, id.Region, *in.LogGroupName), 0))
}
