package main

import (
	"io"
	"net/http/httptest"
	"testing"
)

func TestTheGreetingEscapesTheName(t *testing.T) {
	server := httptest.NewServer(handler("Hello"))
	defer server.Close()
	response, err := server.Client().Get(server.URL + "/?name=%3Cb%3E")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(response.Body)
	if got, want := string(body), "<h1>Hello, &lt;b&gt;!</h1>\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
