package sandbox

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Platform log lines, formatted as AWS writes them to CloudWatch.

func formatTimestamp(t time.Time) []byte {
	return t.UTC().AppendFormat(make([]byte, 0, 24), "2006-01-02T15:04:05.000Z")
}

func (e *env) appendStart(b []byte, id string, now time.Time) []byte {
	b = lineBreak(b)
	if e.json {
		if !e.sysOn(levelStart) {
			return b
		}
		b = append(b, `{"time":"`...)
		b = append(b, formatTimestamp(now)...)
		b = append(b, `","type":"platform.start","record":{"requestId":`...)
		b = appendJSONString(b, id)
		b = append(b, `,"version":`...)
		b = appendJSONString(b, e.version)
		b = appendTenantField(b, e.tenant())
		return append(b, "}}\n"...)
	}
	b = append(b, "START RequestId: "...)
	b = append(b, id...)
	b = append(b, " Version: "...)
	b = append(b, e.version...)
	return append(b, '\n')
}

// billedMs rounds up to the millisecond; init is billed too, as AWS does
// for every runtime since August 2025.
func billedMs(d, initDur time.Duration) int64 {
	return int64(math.Ceil(float64(d+initDur) / float64(time.Millisecond)))
}

func appendMs2(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

func (e *env) appendEnd(b []byte, id string, res Result, status, errType string) []byte {
	b = lineBreak(b)
	if e.json {
		b = e.appendRuntimeDone(b, id, res.Duration, status, errType)
		if !e.sysOn(levelReport) {
			return b
		}
		b = append(b, `{"time":"`...)
		b = append(b, formatTimestamp(time.Now())...)
		b = append(b, `","type":"platform.report","record":{"requestId":`...)
		b = appendJSONString(b, id)
		b = appendTenantField(b, e.tenant())
		b = append(b, `,"metrics":{"durationMs":`...)
		b = appendMs2(b, res.Duration)
		b = append(b, `,"billedDurationMs":`...)
		b = strconv.AppendInt(b, billedMs(res.Duration, res.InitDuration), 10)
		b = append(b, `,"memorySizeMB":`...)
		b = strconv.AppendInt(b, int64(e.fn.MemoryMB), 10)
		b = append(b, `,"maxMemoryUsedMB":`...)
		b = strconv.AppendInt(b, int64(res.MaxMemoryUsedMB), 10)
		if res.InitDuration > 0 {
			b = append(b, `,"initDurationMs":`...)
			b = appendMs2(b, res.InitDuration)
		}
		b = append(b, `},"status":`...)
		b = appendJSONString(b, status)
		if status != "success" && errType != "" {
			b = append(b, `,"errorType":`...)
			b = appendJSONString(b, errType)
		}
		if e.fn.RuntimeFallback != "" {
			b = append(b, `,"runtimeVersion":`...)
			b = appendJSONString(b, e.fn.RuntimeFallback)
		}
		return append(b, "}}\n"...)
	}
	b = append(b, "END RequestId: "...)
	b = append(b, id...)
	b = append(b, "\nREPORT RequestId: "...)
	b = append(b, id...)
	b = append(b, "\tDuration: "...)
	b = appendMs2(b, res.Duration)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, billedMs(res.Duration, res.InitDuration), 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(e.fn.MemoryMB), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	b = strconv.AppendInt(b, int64(res.MaxMemoryUsedMB), 10)
	b = append(b, " MB\t"...)
	if res.InitDuration > 0 {
		b = append(b, "Init Duration: "...)
		b = appendMs2(b, res.InitDuration)
		b = append(b, " ms\t"...)
	}
	if e.fn.RuntimeFallback != "" {
		// lambdad's own field: the function runs on another version than its runtime's.
		b = append(b, "Runtime Version: "...)
		b = append(b, e.fn.RuntimeFallback...)
		b = append(b, '\t')
	}
	return append(b, '\n')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// jsonEscape returns s escaped for use inside a JSON string literal.
func jsonEscape(s string) string {
	safe := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	q, _ := json.Marshal(s)
	return string(q[1 : len(q)-1])
}
