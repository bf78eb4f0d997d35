package gateway

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlflowauth/mlflowauth/auth"
)

// ProxyConfig configures the reverse proxy to MLflow.
type ProxyConfig struct {
	// Upstream is the MLflow tracking server (MLFLOW_UPSTREAM_URL).
	Upstream *url.URL
	// Username and Password are the gateway's own credentials towards an
	// MLflow that runs its own auth (MLFLOW_UPSTREAM_USERNAME/PASSWORD).
	Username, Password string
	// SessionCookie is the gateway's session cookie, never forwarded.
	SessionCookie string
	// Transport reaches MLflow; a tuned http.Transport when nil.
	Transport http.RoundTripper
	Logger    *slog.Logger
	// MenuScript, when set, is added to MLflow's UI page (at UIPath, "/"
	// when empty: MLFLOW_STATIC_PREFIX + "/") as a script: the gateway's
	// menu inside MLflow's own UI.
	MenuScript string
	UIPath     string
	// MenuLogin is the sign-in page the menu sends a browser to when its
	// session ends ("/login" with SSO on); empty, the page reloads (and the
	// browser asks for Basic credentials again).
	MenuLogin string
}

// uiMarker tells ModifyResponse which answer is the UI page; MLflow
// ignores it.
const uiMarker = "X-Mlflowauth-Ui-Page"

// maxUIPage bounds the UI page read to add the menu (MLflow's is ~2 KiB).
const maxUIPage = 4 << 20

// NewProxy returns the reverse proxy to MLflow. It rewrites each request
// for the upstream (its URL and Host, X-Forwarded-*), drops Origin (the
// gateway checked it; MLflow 3.5 and later refuse a cross-origin or
// non-local request) and the caller's credentials (the Authorization
// header and the gateway's session cookie: MLflow must not see them),
// adds the gateway's own credentials where configured, and answers an
// unreachable MLflow with a 502 in MLflow's error shape. Bodies stream
// both ways: artifacts are never buffered here.
func NewProxy(cfg ProxyConfig) (http.Handler, error) {
	if cfg.Upstream == nil || (cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https") || cfg.Upstream.Host == "" {
		return nil, errors.New("gateway: the upstream must be an http(s) URL")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			Proxy:                 nil, // MLflow is reached directly, not through HTTP_PROXY
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   256, // one upstream, many concurrent clients
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			ResponseHeaderTimeout: 0, // LLM and artifact streams may think for long
		}
	}
	upstream := *cfg.Upstream
	if cfg.UIPath == "" {
		cfg.UIPath = "/"
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&upstream)
			pr.Out.Host = upstream.Host // the upstream's own Host
			pr.SetXForwarded()
			pr.Out.Header.Del("Origin")
			pr.Out.Header.Del("Authorization")
			stripCookie(pr.Out, cfg.SessionCookie)
			if cfg.Username != "" {
				pr.Out.SetBasicAuth(cfg.Username, cfg.Password)
			}
			pr.Out.Header.Del(uiMarker)
			if cfg.MenuScript != "" && (pr.In.Method == http.MethodGet || pr.In.Method == http.MethodHead) && pr.In.URL.Path == cfg.UIPath {
				// Fetched uncompressed, so the menu can be added ("identity":
				// with none at all, Go's transport would ask for gzip).
				pr.Out.Header.Set("Accept-Encoding", "identity")
				pr.Out.Header.Set(uiMarker, "1")
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request == nil || resp.Request.Header.Get(uiMarker) == "" {
				return nil
			}
			return addMenu(resp, cfg.MenuScript, cfg.MenuLogin)
		},
		Transport: cfg.Transport,
		// FlushInterval 0: Go's proxy flushes each write at once for what
		// streams (text/event-stream, and answers of unknown length such as
		// chunked LLM tokens); a JSON answer of known length goes out in one
		// write instead of a flush per write (-1 cost a system call and a
		// packet more per answer).
		FlushInterval: 0,
		BufferPool:    newCopyBuffers(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(r.Context().Err(), context.Canceled) {
				// The client went away (a browser leaving a page cancels
				// its requests): not worth an error in the log. The 502 is
				// still written: the layers before the proxy (the
				// authorizer recording a rename or a delete) must see that
				// MLflow's answer never came.
				cfg.Logger.DebugContext(r.Context(), "gateway: the client went away", "error", err, "path", r.URL.Path)
			} else {
				cfg.Logger.ErrorContext(r.Context(), "gateway: MLflow is unreachable", "error", err, "path", r.URL.Path)
			}
			auth.WriteError(w, &auth.Error{Status: http.StatusBadGateway, Code: auth.CodeTemporarilyUnavailable,
				Message: "The MLflow tracking server did not answer; try again", Err: err})
		},
	}, nil
}

// copyBuffers lends the proxy its 32 KiB copy buffers: without them each
// answer allocates one, most of the garbage a request makes. A bounded
// free list rather than a sync.Pool: Put of a []byte into a Pool boxes it,
// an allocation per answer.
type copyBuffers struct{ free chan []byte }

func newCopyBuffers() *copyBuffers { return &copyBuffers{free: make(chan []byte, 256)} }

func (c *copyBuffers) Get() []byte {
	select {
	case b := <-c.free:
		return b
	default:
		return make([]byte, 32<<10)
	}
}

func (c *copyBuffers) Put(b []byte) {
	select {
	case c.free <- b:
	default: // enough kept; the collector takes this one
	}
}

// stripCookie removes the named cookie from the request's Cookie headers,
// keeping the others (MLflow's own UI cookies).
func stripCookie(r *http.Request, name string) {
	if name == "" {
		return
	}
	var kept []string
	for _, line := range r.Header.Values("Cookie") {
		for part := range strings.SplitSeq(line, ";") {
			p := strings.TrimSpace(part)
			if p == "" {
				continue
			}
			if n, _, _ := strings.Cut(p, "="); strings.TrimSpace(n) == name { // "session =" is "session" to a parser
				continue
			}
			kept = append(kept, p)
		}
	}
	r.Header.Del("Cookie")
	if len(kept) > 0 {
		r.Header.Set("Cookie", strings.Join(kept, "; "))
	}
}

// addMenu puts the menu's script into MLflow's UI page, before </head>.
// No user data goes into the page (the script asks the API who is signed
// in), and the page is no-store with its length and ETag fixed, so no
// cache serves one user's page to another or the original to anyone.
func addMenu(resp *http.Response, script, login string) error {
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/html") || resp.Header.Get("Content-Encoding") != "" {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUIPage+1))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if len(b) > maxUIPage {
		return errors.New("gateway: MLflow's UI page is larger than 4 MiB")
	}
	attrs := `src="` + html.EscapeString(script) + `"`
	if login != "" {
		attrs += ` data-login="` + html.EscapeString(login) + `"`
	}
	tag := []byte(`<script ` + attrs + ` defer></script>`)
	if i := bytes.Index(bytes.ToLower(b), []byte("</head>")); i >= 0 {
		b = append(b[:i:i], append(tag, b[i:]...)...)
	} else {
		b = append(b, tag...)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	if etag := resp.Header.Get("ETag"); etag != "" {
		resp.Header.Set("ETag", `W/"mlflowauth-`+strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)+`"`)
	}
	resp.Header.Del("Last-Modified")
	resp.Header.Set("Cache-Control", "private, no-store")
	return nil
}
