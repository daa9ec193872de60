package sandbox

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Log levels of LoggingConfig, least severe first. Under the JSON log
// format Lambda keeps a record only at or above the function's level:
// SystemLogLevel for its own (platform) records, ApplicationLogLevel for
// the function's output. Under Text nothing is filtered.
type logLevel int8

const (
	levelAll logLevel = iota // no filter
	levelTrace
	levelDebug
	levelInfo
	levelWarn
	levelError
	levelFatal
)

// levelNames are the level names LoggingConfig and runtimes use, Python's
// WARNING and CRITICAL included.
var levelNames = [...]struct {
	name  string
	level logLevel
}{
	{"TRACE", levelTrace}, {"DEBUG", levelDebug}, {"INFO", levelInfo},
	{"WARN", levelWarn}, {"WARNING", levelWarn}, {"ERROR", levelError},
	{"FATAL", levelFatal}, {"CRITICAL", levelFatal},
}

// parseLevel reads a level name in any case; ok is false for anything else.
func parseLevel(s string) (l logLevel, ok bool) {
	for _, n := range levelNames {
		if strings.EqualFold(s, n.name) {
			return n.level, true
		}
	}
	return levelAll, false
}

// parseLevelBytes is parseLevel without making a string.
func parseLevelBytes(b []byte) (l logLevel, ok bool) {
	for _, n := range levelNames {
		if len(b) == len(n.name) && bytes.EqualFold(b, []byte(n.name)) {
			return n.level, true
		}
	}
	return levelAll, false
}

// Platform records' levels. AWS documents which level each system log
// record has only for Web Functions' events [?]; these follow what its
// JSON logs show: initStart, start, report and a failed init's initReport
// at INFO, the Telemetry API's finer events (initRuntimeDone, a successful
// initReport, runtimeDone) at DEBUG, dropped output (logsDropped) at WARN.
const (
	levelInitStart   = levelInfo
	levelStart       = levelInfo
	levelReport      = levelInfo
	levelDetail      = levelDebug
	levelLogsDropped = levelWarn
)

// sysOn says whether a platform record of level l is written: always under
// Text, at or above SystemLogLevel under JSON.
func (e *env) sysOn(l logLevel) bool { return !e.json || l >= e.sysLevel }

// setLevels reads the function's LoggingConfig levels; they apply under
// the JSON log format only. A SystemLogLevel left empty is AWS's default,
// INFO; an ApplicationLogLevel left empty filters nothing (the runtimes
// apply their own default).
func (e *env) setLevels() {
	e.sysLevel = levelInfo
	if !e.json {
		return
	}
	if l, ok := parseLevel(e.fn.SystemLogLevel); ok {
		e.sysLevel = l
	}
	if l, ok := parseLevel(e.fn.ApplicationLogLevel); ok && l > levelTrace {
		e.appLevel = l
	}
}

// lineLevel is the level of one line of the function's output: a JSON
// object's top-level "level" key, else (no key, not JSON, or a level Lambda
// does not know) INFO, as AWS's log-level filtering assigns it. Most lines
// are told apart without parsing; an object is scanned once for its key
// and checked with json.Valid, with no allocation.
func lineLevel(line []byte) logLevel {
	t := bytes.TrimSpace(line)
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' || !bytes.Contains(t, []byte(`"level"`)) {
		return levelInfo
	}
	v, ok := topLevelString(t, "level")
	if !ok || !json.Valid(t) {
		return levelInfo
	}
	if l, ok := parseLevelBytes(v); ok {
		return l
	}
	return levelInfo
}

// topLevelString finds the string value of key among the members of the
// object t (not of objects inside it); ok is false when there is none, or
// the value is not a string without escapes.
func topLevelString(t []byte, key string) (v []byte, ok bool) {
	depth, expectKey := 0, false
	for i := 0; i < len(t); i++ {
		switch c := t[i]; c {
		case '{', '[':
			depth++
			expectKey = c == '{' && depth == 1
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		case '"':
			end := stringEnd(t, i)
			if end < 0 {
				return nil, false
			}
			if depth == 1 && expectKey {
				expectKey = false
				if string(t[i+1:end]) == key {
					j := skipSpace(t, end+1)
					if j >= len(t) || t[j] != ':' {
						return nil, false
					}
					j = skipSpace(t, j+1)
					if j >= len(t) || t[j] != '"' {
						return nil, false
					}
					vend := stringEnd(t, j)
					if vend < 0 || bytes.IndexByte(t[j+1:vend], '\\') >= 0 {
						return nil, false
					}
					return t[j+1 : vend], true
				}
			}
			i = end
		}
	}
	return nil, false
}

// stringEnd is the index of the quote that ends the string starting at
// t[i], or -1.
func stringEnd(t []byte, i int) int {
	for j := i + 1; j < len(t); j++ {
		switch t[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

func skipSpace(t []byte, i int) int {
	for i < len(t) && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r') {
		i++
	}
	return i
}

// maxPartialLine bounds a line held back for filtering until its newline
// comes; a longer one is judged as it is.
const maxPartialLine = 256 << 10

// filterOutputLocked keeps the complete lines of b whose level passes
// ApplicationLogLevel, holding an unfinished last line back; logMu held.
func (e *env) filterOutputLocked(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			e.partial = append(e.partial, b...)
			if len(e.partial) > maxPartialLine {
				e.flushPartialLocked()
			}
			return
		}
		line := b[:i+1]
		b = b[i+1:]
		if len(e.partial) > 0 {
			e.partial = append(e.partial, line...)
			line = e.partial
			e.partial = e.partial[:0]
		}
		if lineLevel(line) >= e.appLevel {
			e.keepOutputLocked(line)
		}
	}
}

// flushPartialLocked judges a held-back unfinished line as it stands:
// its writer has had the time of the invocation to end it; logMu held.
func (e *env) flushPartialLocked() {
	if len(e.partial) == 0 {
		return
	}
	if lineLevel(e.partial) >= e.appLevel {
		e.keepOutputLocked(e.partial)
	}
	e.partial = e.partial[:0]
}

// lineBreak ends b's last line, so that a record of the platform never
// runs on from output the function did not end with a newline.
func lineBreak(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b
}

// runtimeVersion is how INIT_START names the runtime ("python:3.12"),
// unless the function says (Function.RuntimeVersion).
func (e *env) runtimeVersion() string {
	if e.fn.RuntimeVersion != "" {
		return e.fn.RuntimeVersion
	}
	return "provided"
}

// functionName is the name in the environment's function ARN.
func (e *env) functionName() string {
	arn := e.fn.Key.FunctionARN
	if i := strings.LastIndex(arn, ":function:"); i >= 0 {
		return arn[i+len(":function:"):]
	}
	return arn
}

// appendInitStart is the record that opens an init: INIT_START under Text
// (as AWS writes it: "INIT_START Runtime Version: python:3.12.v18\tRuntime
// Version ARN: arn:..."), platform.initStart under JSON.
func (e *env) appendInitStart(b []byte, now time.Time) []byte {
	if !e.sysOn(levelInitStart) {
		return b
	}
	b = lineBreak(b)
	if e.json {
		b = append(b, `{"time":"`...)
		b = append(b, formatTimestamp(now)...)
		b = append(b, `","type":"platform.initStart","record":{"initializationType":`...)
		b = appendJSONString(b, e.initType)
		b = append(b, `,"phase":"init","runtimeVersion":`...)
		b = appendJSONString(b, e.runtimeVersion())
		if e.fn.RuntimeVersionARN != "" {
			b = append(b, `,"runtimeVersionArn":`...)
			b = appendJSONString(b, e.fn.RuntimeVersionARN)
		}
		b = append(b, `,"functionName":`...)
		b = appendJSONString(b, e.functionName())
		b = append(b, `,"functionVersion":`...)
		b = appendJSONString(b, e.version)
		b = appendTenantField(b, e.tenant())
		return append(b, "}}\n"...)
	}
	b = append(b, "INIT_START Runtime Version: "...)
	b = append(b, e.runtimeVersion()...)
	if e.fn.RuntimeVersionARN != "" {
		b = append(b, "\tRuntime Version ARN: "...)
		b = append(b, e.fn.RuntimeVersionARN...)
	}
	return append(b, '\n')
}

// appendInitEnd is the record that closes an init. Under Text only a
// failed init has one, as on AWS: "INIT_REPORT Init Duration: 150.79 ms\t
// Phase: init\tStatus: error\tError Type: Runtime.UserCodeSyntaxError" (or
// "Status: timeout"). Under JSON: platform.initRuntimeDone and
// platform.initReport, at DEBUG when the init succeeded.
func (e *env) appendInitEnd(b []byte, d time.Duration, status, errType string) []byte {
	if e.json {
		if !e.sysOn(levelDetail) && (status == "success" || !e.sysOn(levelReport)) {
			return b
		}
		b = lineBreak(b)
		now := formatTimestamp(time.Now())
		if e.sysOn(levelDetail) {
			b = e.appendInitRecord(b, now, "platform.initRuntimeDone", status, errType, -1)
		}
		return e.appendInitRecord(b, now, "platform.initReport", status, errType, d)
	}
	if status == "success" {
		return b
	}
	b = lineBreak(b)
	b = append(b, "INIT_REPORT Init Duration: "...)
	b = appendMs2(b, d)
	b = append(b, " ms\tPhase: init\tStatus: "...)
	b = append(b, status...)
	if errType != "" && status != "timeout" {
		b = append(b, "\tError Type: "...)
		b = append(b, errType...)
	}
	return append(b, '\n')
}

// appendInitRecord is one of the JSON init records; d < 0 leaves out its
// metrics.
func (e *env) appendInitRecord(b, now []byte, typ, status, errType string, d time.Duration) []byte {
	b = append(b, `{"time":"`...)
	b = append(b, now...)
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	b = append(b, `","record":{"initializationType":`...)
	b = appendJSONString(b, e.initType)
	b = append(b, `,"phase":"init","status":`...)
	b = appendJSONString(b, status)
	if errType != "" && status != "success" {
		b = append(b, `,"errorType":`...)
		b = appendJSONString(b, errType)
	}
	if d >= 0 {
		b = append(b, `,"metrics":{"durationMs":`...)
		b = appendMs2(b, d)
		b = append(b, '}')
	}
	b = appendTenantField(b, e.tenant())
	return append(b, "}}\n"...)
}

// appendRuntimeDone is platform.runtimeDone, a DEBUG record under JSON.
func (e *env) appendRuntimeDone(b []byte, id string, d time.Duration, status, errType string) []byte {
	if !e.json || !e.sysOn(levelDetail) {
		return b
	}
	b = lineBreak(b)
	b = append(b, `{"time":"`...)
	b = append(b, formatTimestamp(time.Now())...)
	b = append(b, `","type":"platform.runtimeDone","record":{"requestId":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, status)
	if status != "success" && errType != "" {
		b = append(b, `,"errorType":`...)
		b = appendJSONString(b, errType)
	}
	b = appendTenantField(b, e.tenant())
	b = append(b, `,"metrics":{"durationMs":`...)
	b = appendMs2(b, d)
	return append(b, "}}}\n"...)
}

// appendLogsDropped says that output was cut (maxLogBytes): a line of its
// own under Text, platform.logsDropped (WARN) under JSON.
func (e *env) appendLogsDropped(b []byte) []byte {
	if !e.sysOn(levelLogsDropped) {
		return b
	}
	b = lineBreak(b)
	if e.json {
		b = append(b, `{"time":"`...)
		b = append(b, formatTimestamp(time.Now())...)
		b = append(b, `","type":"platform.logsDropped","record":{"reason":"The invocation's output exceeded lambdad's limit of one invocation's log: the rest was dropped."}}`...)
		return append(b, '\n')
	}
	return append(b, "[lambdad: log truncated]\n"...)
}

// initErrorType is the errorType of a runtime's /init/error body, else
// Runtime.Unknown.
func initErrorType(body []byte) string {
	var doc struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.ErrorType != "" {
		return doc.ErrorType
	}
	return "Runtime.Unknown"
}

// platformLog adds a platform record where the function's output goes now:
// the current log, or what comes before the next one.
func (e *env) platformLog(add func([]byte) []byte) {
	e.logMu.Lock()
	if e.logActive {
		e.logBuf = add(e.logBuf)
	} else {
		e.preLog = add(e.preLog)
	}
	e.logMu.Unlock()
}
