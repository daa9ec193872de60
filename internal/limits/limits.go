// Package limits holds the AWS Lambda quotas and defaults that lambdad
// enforces and reports, each in one place, named for what it bounds.
//
// Sources: the Lambda developer guide's quotas page,
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
// ("quotas" below); the API reference of CreateFunction,
// https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html
// ("CreateFunction" below); and, where AWS documents a limit only in round
// units, the exact byte counts its error messages name.
//
// The constants are untyped so that each use site keeps its own type.
package limits

// Invocation payloads.
const (
	// InvokeRequestBytes is the largest synchronous Invoke payload: 6 MB
	// (quotas, "Invocation payload (request and response)"). AWS's
	// RequestTooLargeException says "Request must be smaller than 6291456
	// bytes for the InvokeFunction operation".
	InvokeRequestBytes = 6291456

	// InvokeResponseBytes is the largest function response the Runtime API
	// accepts: 6 MB plus 100 bytes, as AWS's Function.ResponseSizeTooLarge
	// error states ("Response payload size exceeded maximum allowed payload
	// size (6291556 bytes).").
	InvokeResponseBytes = 6291556
)

// Deployment packages and layers.
const (
	// CodeRequestBytes is the largest CreateFunction, UpdateFunctionCode or
	// PublishLayerVersion request body: a ZippedCodeBytes zip, base64-encoded,
	// in JSON. AWS answers a larger one with 413 RequestEntityTooLargeException
	// "Request must be smaller than 70167211 bytes for the <operation>
	// operation".
	CodeRequestBytes = 70167211

	// ZippedCodeBytes is the largest zip uploaded in the request itself:
	// 50 MB (quotas, "Deployment package (.zip file archive) size", zipped
	// for direct upload; GetAccountSettings' CodeSizeZipped).
	ZippedCodeBytes = 52428800

	// UnzippedCodeBytes is the largest unzipped deployment package, layers
	// included: 250 MB (quotas; GetAccountSettings' CodeSizeUnzipped).
	UnzippedCodeBytes = 262144000

	// TotalCodeBytes is the storage for all of an account's deployment
	// packages and layers in a Region: 75 GB (quotas, "Storage for uploaded
	// functions (.zip file archives) and layers"; TotalCodeSize).
	TotalCodeBytes = 80530636800

	// LayersPerFunction is how many layers one function may use: 5 (quotas,
	// "Function layers"; AWS refuses more with "Cannot reference more than 5
	// layers.").
	LayersPerFunction = 5
)

// Function configuration defaults, used when CreateFunction omits them.
const (
	// DefaultMemoryMB is MemorySize's default: 128 MB (CreateFunction,
	// MemorySize: "The default value is 128 MB").
	DefaultMemoryMB = 128

	// DefaultTimeoutSeconds is Timeout's default: 3 s (CreateFunction,
	// Timeout: "The default is 3 seconds").
	DefaultTimeoutSeconds = 3

	// DefaultEphemeralStorageMB is the size of /tmp by default: 512 MB
	// (CreateFunction, EphemeralStorage; quotas, "/tmp directory storage").
	DefaultEphemeralStorageMB = 512
)

// Concurrency.
const (
	// DefaultConcurrentExecutions is an account's concurrency in a Region by
	// default: 1,000 (quotas, "Concurrent executions").
	DefaultConcurrentExecutions = 1000

	// MinUnreservedConcurrency is the part of the account's concurrency no
	// function may reserve: 100 (PutFunctionConcurrency; AWS refuses a
	// reservation that would leave less with "... below its minimum value of
	// [100].").
	MinUnreservedConcurrency = 100
)
