package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// Every code is a snake_case name with an error status, a default message and a
// meaning, and a client receives exactly that status and name with the message
// of the call site (or the default one).
func TestEveryCodeIsWrittenWithItsStatusNameAndMessage(t *testing.T) {
	all := Codes()
	if len(all) < 30 {
		t.Fatalf("only %d codes in the table", len(all))
	}
	for name, c := range all {
		if c.Name() != name || !snakeCase.MatchString(name) || http.StatusText(c.Status()) == "" ||
			c.Status() < 400 || c.Message() == "" || c.Meaning() == "" {
			t.Errorf("Codes()[%q] = %+v: a snake_case name, an error status, a message and a meaning are required", name, c)
		}
		for _, e := range []*Error{c.Err(), c.Cause(errors.New("cause")), c.New("call site"), c.Wrap("call site", errors.New("cause"))} {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), e)
			var body ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != c.Status() ||
				body.Error != name || body.Message != e.Message || (e != nil && e.Message == "") {
				t.Errorf("%s: wrote %d %s", name, w.Code, w.Body)
			}
		}
		if c.Err().Message != c.Message() || c.Cause(nil).Message != c.Message() {
			t.Errorf("%s: Err() does not carry the default message", name)
		}
	}
}

// Codes hands out a copy: the table cannot be changed from outside.
func TestCodesIsACopy(t *testing.T) {
	Codes()["busy"] = Code{}
	delete(Codes(), "internal_error")
	if Codes()["busy"] != Busy || Codes()["internal_error"] != Internal {
		t.Fatal("the code table was changed through Codes()")
	}
}

// The zero Code is a programming error: it answers as any unexpected error does.
func TestZeroCodeAnswersInternalError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), &Error{Message: "secret detail"})
	if w.Code != http.StatusInternalServerError ||
		w.Body.String() != `{"error":"internal_error","message":"the server could not complete the request"}` {
		t.Fatalf("zero code answered %d %s", w.Code, w.Body)
	}
}
