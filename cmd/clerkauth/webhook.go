package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/redact"
	"github.com/clerkauth/clerkauth/internal/webhookmsg"
)

const webhookUsage = `clerkauth webhook send delivers one signed webhook to your endpoint, as
Clerk's Dashboard does when it sends a test event.

Usage:

	clerkauth webhook send [flags] <event-type> <url>

for example

	clerkauth webhook send user.created http://localhost:8080/api/webhooks/clerk

It builds Clerk's event envelope around the data (--data, or sample data
for the event types below), signs it with ` + clerkauth.EnvWebhookSecret + `
(Svix's svix-id, svix-timestamp and svix-signature headers), POSTs it,
and prints the answer's status and the start of its body. It exits 0 when
the endpoint answers 2xx, 1 otherwise.

Event types with sample data:
	%s

Flags of webhook send:
`

// Limits of webhook send. The data may be larger than WebhookHandler's
// default MaxBodyBytes, so that its body-too-large answer can be tried;
// the answer is shown only as far as a terminal is useful.
const (
	maxDataBytes   = 8 << 20
	maxAnswerBytes = 4 << 10
)

func webhookFlags(fs *flag.FlagSet) (data, id *string, offset, timeout *time.Duration) {
	data = fs.String("data", "", "a JSON file with the event's data object (or a whole event, whose data is used); - reads standard input")
	id = fs.String("id", "", "the svix-id (default: a fresh msg_…); send one id twice to see deduplication")
	offset = fs.Duration("timestamp-offset", 0, "shift svix-timestamp from now, e.g. -10m to see a stale delivery refused")
	timeout = fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	return
}

// webhookCommand runs "clerkauth webhook …".
func webhookCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("webhook send", flag.ContinueOnError)
	data, id, offset, timeout := webhookFlags(fs)
	printUsage := func(w io.Writer) {
		fmt.Fprintf(w, webhookUsage, strings.Join(webhookmsg.SampleTypes(), "\n\t"))
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "clerkauth webhook send: "+format+"\n", a...)
		if code == 2 {
			fmt.Fprintln(stderr)
			printUsage(stderr)
		}
		return code
	}
	switch {
	case len(args) > 0 && isHelp(args[0]):
		printUsage(stdout)
		return 0
	case len(args) == 0 || args[0] != "send":
		fmt.Fprintln(stderr, "clerkauth webhook: the command is \"webhook send\"")
		fmt.Fprintln(stderr)
		printUsage(stderr)
		return 2
	}
	// Flags may come before, between or after the two arguments.
	fs.SetOutput(io.Discard)
	var pos []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		} else if err != nil {
			return fail(2, "%v", err)
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	if len(pos) != 2 {
		return fail(2, "want an event type and a URL, got %d argument(s)", len(pos))
	}
	eventType, target := pos[0], pos[1]

	secret := clerkauth.WebhookSecretFromLookup(getenv)
	if secret == "" {
		return fail(1, "%s is not set: export your endpoint's signing secret (Dashboard → Webhooks → your endpoint → Signing Secret), the one the server verifies with", clerkauth.EnvWebhookSecret)
	}
	if err := checkWebhookSecret(secret); err != nil {
		return fail(1, "%v", err)
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail(2, "the target %q must be an http or https URL, such as http://localhost:8080/api/webhooks/clerk", redact.URL(target))
	}
	at := time.Now().Add(*offset)
	payload, err := eventData(eventType, *data, stdin, at)
	if err != nil {
		return fail(1, "%v", err)
	}
	body, err := webhookmsg.Envelope(eventType, payload, at, "ins_clerkauth_cli", "clerkauth webhook send")
	if err != nil {
		return fail(1, "encoding the event: %v", err)
	}
	if *id == "" {
		*id = webhookmsg.NewMessageID()
	}
	headers, err := webhookmsg.Sign(secret, *id, at, body)
	if err != nil {
		return fail(1, "signing: %v", err)
	}

	shown := redact.URL(target)
	fmt.Fprintf(stdout, "POST %s\n%s %s, svix-id %s, svix-timestamp %s, %d bytes\n", shown, eventType, dataSource(*data), *id, headers.Get("svix-timestamp"), len(body))
	status, answer, truncated, err := post(ctx, target, headers, body, *timeout)
	if err != nil {
		return fail(1, "cannot reach %s: %v", shown, err)
	}
	fmt.Fprintf(stdout, "\n%s\n", status)
	if len(answer) > 0 {
		fmt.Fprintln(stdout, printable(answer))
	}
	if truncated {
		fmt.Fprintf(stdout, "… (the answer is longer; %d bytes shown)\n", maxAnswerBytes)
	}
	if !strings.HasPrefix(status, "2") {
		fmt.Fprintln(stdout, "\nThe endpoint did not acknowledge the delivery: Svix would retry it. The reason in the body says why (see the table of answers in docs/webhooks.md).")
		return 1
	}
	return 0
}

// eventData returns the data of the event: the file's (a data object, or
// a whole event as the Dashboard shows it), or the sample for eventType.
func eventData(eventType, file string, stdin io.Reader, at time.Time) (json.RawMessage, error) {
	if file == "" {
		if d, ok := webhookmsg.SampleData(eventType, at); ok {
			return d, nil
		}
		return nil, fmt.Errorf("there is no sample data for %q: pass --data with a JSON file of the event's data (types with sample data: %s)", eventType, strings.Join(webhookmsg.SampleTypes(), ", "))
	}
	var r io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxDataBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading %s: %v", file, err)
	case len(raw) > maxDataBytes:
		return nil, fmt.Errorf("%s is larger than %d MiB", file, maxDataBytes>>20)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object (the event's data, such as a user): %v", file, err)
	}
	if string(obj["object"]) == `"event"` && obj["data"] != nil {
		return obj["data"], nil // a whole event: send its data
	}
	return raw, nil
}

func dataSource(file string) string {
	if file == "" {
		return "(sample data)"
	}
	return "(data from " + file + ")"
}

// post sends the delivery with a bounded wait and reads at most
// maxAnswerBytes of the answer. It does not follow redirects, as Svix
// does not.
func post(ctx context.Context, target string, headers http.Header, body []byte, timeout time.Duration) (status string, answer []byte, truncated bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return "", nil, false, err
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "clerkauth-webhook-send")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL is shown redacted by the caller
		}
		return "", nil, false, err
	}
	defer resp.Body.Close()
	// An answer that breaks off is shown as far as it came.
	answer, _ = io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if len(answer) > maxAnswerBytes {
		answer, truncated = answer[:maxAnswerBytes], true
	}
	return resp.Status, answer, truncated, nil
}

// printable keeps an answer from sending escape sequences to the
// terminal: control characters other than newline and tab become '?'.
func printable(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return '?'
	}, strings.TrimRight(strings.ToValidUTF8(string(b), "?"), "\n"))
}

// checkWebhookSecret judges a signing secret with the library's own
// rules, as WebhookHandler will.
func checkWebhookSecret(secret string) error {
	_, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{Secret: secret, Events: func(context.Context, *clerkauth.Event) error { return nil }})
	return err
}

func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "-help" || arg == "--help"
}
