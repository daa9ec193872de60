package main

import "github.com/lambdad/lambdad/internal/blobs"

// blobsValue is --blobs: s3://bucket[/prefix], refused at start unless it
// has that form (the bucket's reachability is checked when lambdad starts).
type blobsValue struct{ p *string }

func (v blobsValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v blobsValue) Set(s string) error {
	if _, _, err := blobs.ParseS3URL(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}
