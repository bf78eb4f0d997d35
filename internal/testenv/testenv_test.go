package testenv

import (
	"fmt"
	"os"
	"testing"
)

func TestNeed(t *testing.T) {
	t.Setenv("MLFLOWAUTH_TEST_X", "postgres://x")
	if got := need(t, "MLFLOWAUTH_TEST_X", "X"); got != "postgres://x" {
		t.Fatalf("need = %q", got)
	}
	// Unset under CI: the test must fail, not skip. Run it in a
	// sub-test whose failure we observe through a fake TB.
	os.Unsetenv("MLFLOWAUTH_TEST_X")
	t.Setenv("CI", "true")
	ft := &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		need(ft, "MLFLOWAUTH_TEST_X", "X")
	}()
	if !ft.fatal || ft.skipped {
		t.Fatalf("under CI a missing service must be fatal (fatal=%v skipped=%v)", ft.fatal, ft.skipped)
	}
	t.Setenv("CI", "")
	ft = &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		need(ft, "MLFLOWAUTH_TEST_X", "X")
	}()
	if !ft.skipped || ft.fatal {
		t.Fatalf("outside CI a missing service skips (fatal=%v skipped=%v)", ft.fatal, ft.skipped)
	}
	if ft.msg != "skipping: needs X (set MLFLOWAUTH_TEST_X)" {
		t.Fatalf("skip message %q", ft.msg)
	}
}

type fakeTB struct {
	testing.TB
	fatal, skipped bool
	msg            string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = true
	panic("fatal")
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = true
	f.msg = fmt.Sprintf(format, args...)
	panic("skip")
}
