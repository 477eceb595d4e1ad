package main

import (
	"net/http/httptest"
	"testing"
)

func TestTheGreetingEscapesTheName(t *testing.T) {
	recorder := httptest.NewRecorder()
	handler("Hello").ServeHTTP(recorder, httptest.NewRequest("GET", "/?name=%3Cb%3E", nil))
	if got, want := recorder.Body.String(), "<h1>Hello, &lt;b&gt;!</h1>\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestAnUnknownPathIsNotFound(t *testing.T) {
	recorder := httptest.NewRecorder()
	handler("Hello").ServeHTTP(recorder, httptest.NewRequest("GET", "/nothing-here", nil))
	if recorder.Code != 404 {
		t.Fatalf("got %d, want 404", recorder.Code)
	}
}
