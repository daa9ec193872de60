package durable

import (
	"testing"

	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/store/storetest"
)

// testStore is the store a test runs on: in memory, unless
// LAMBDAD_TEST_STORE names another engine (postgres).
func testStore(t *testing.T) store.Store { return storetest.Open(t, "memory") }
