package functions

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/lambdad/lambdad/internal/fault"
)

// checkServiceDestination checks an SQS, SNS, EventBridge or S3
// destination of asynchronous invocations: the resource its service needs,
// S3 for failures only (AWS's docs: "on failure only"), and that lambdad
// can reach the service (Config.CheckDestination).
func (s *Service) checkServiceDestination(dest string, onSuccess bool) error {
	invalid := fault.InvalidParameterf("The destination ARN %s is invalid.", dest)
	a, err := arn.Parse(dest)
	if err != nil {
		return invalid
	}
	switch a.Service {
	case "sqs", "sns":
		if !isRegion(a.Region) || !isAccount(a.AccountID) || !isQueueOrTopicName(a.Resource) {
			return invalid
		}
	case "events":
		bus, ok := strings.CutPrefix(a.Resource, "event-bus/")
		if !ok || !isRegion(a.Region) || !isAccount(a.AccountID) || bus == "" || strings.ContainsAny(bus, ":*? ") {
			return invalid
		}
	case "s3":
		// [?] AWS's words for an S3 OnSuccess destination.
		if onSuccess || a.Region != "" || a.AccountID != "" || a.Resource == "" || strings.ContainsAny(a.Resource, ":/*? ") {
			return invalid
		}
	default:
		return invalid
	}
	if s.cfg.CheckDestination == nil {
		return fault.Unsupported("Destinations of type " + a.Service + " (" + dest + ")")
	}
	return s.cfg.CheckDestination(dest)
}

func isQueueOrTopicName(n string) bool {
	if n == "" || len(n) > 256 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// checkDeadLetter checks a DeadLetterConfig's TargetArn as AWS does: an
// SQS queue or SNS topic (not FIFO) of the function's region, that
// lambdad can reach. "" removes the dead-letter queue. Messages marked [?]
// are not confirmed against AWS.
func (s *Service) checkDeadLetter(self Ref, target *string) error {
	if target == nil || *target == "" {
		return nil
	}
	a, err := arn.Parse(*target)
	if err != nil {
		return fault.InvalidParameterf("Invalid dead letter queue ARN: ARNs must start with 'arn:'")
	}
	if a.Service != "sqs" && a.Service != "sns" {
		// [?]
		return fault.InvalidParameterf("Invalid dead letter queue ARN: The service specified by the TargetArn is not supported for dead letter configuration.")
	}
	if !isQueueOrTopicName(a.Resource) || !isAccount(a.AccountID) || !isRegion(a.Region) {
		// [?]
		return fault.InvalidParameterf("Invalid dead letter queue ARN: The resource specified by the TargetArn is not valid.")
	}
	if a.Region != self.Region {
		// [?]
		return fault.InvalidParameterf("Invalid dead letter queue ARN: The resource specified by the TargetArn must be in the same region as the Lambda function it's associated with.")
	}
	if strings.HasSuffix(a.Resource, ".fifo") {
		kind := "SQS queue"
		if a.Service == "sns" {
			kind = "SNS topic" // [?]
		}
		return fault.InvalidParameterf("Invalid dead letter queue ARN: FIFO %s is not supported for dead letter configuration", kind)
	}
	if s.cfg.CheckDestination == nil {
		return fault.Unsupported("DeadLetterConfig (" + *target + ")")
	}
	return s.cfg.CheckDestination(*target)
}
