package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The console's browser tests check every page they reach for
// accessibility: axe-core (e2e/axe, pinned by its package-lock.json,
// installed by .ci/run) must find no serious or critical violation, and
// every link, button and form control must be reachable with the Tab key.

// axeSource is axe-core's script, read once; "" when it is not installed.
var axeSource = sync.OnceValue(func() string {
	b, err := os.ReadFile(filepath.Join("axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		return ""
	}
	return string(b)
})

// axeViolations runs axe and returns its serious and critical violations.
const axeViolations = `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
  r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary.replace(/\s+/g, " ").slice(0, 200))
  }))))`

// keyboardTargets lists every visible, enabled link, button, form control
// (a radio group once: Tab stops at it, arrow keys move within it)
// and details summary, starts recording which of them take the focus, and
// returns how many there are. It leaves the DOM as it is (the test's own
// queries follow). In the policy editor, whose Tab key indents, Escape is
// pressed on arrival (as the editor's hint says) so that the next Tab
// moves on.
const keyboardTargets = `(() => {
  window.__kbEls = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')]
    .filter(e => !e.disabled && e.getClientRects().length > 0 && e.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true}))
    .filter((e, _, all) => { // a radio group is one Tab stop (its checked radio, else its first); arrow keys move within it
      if (e.type !== "radio") return true;
      const group = all.filter(x => x.type === "radio" && x.name === e.name && x.form === e.form);
      return e === (group.find(x => x.checked) || group[0]);
    });
  window.__kb = new Set();
  if (!window.__kbListening) {
    window.__kbListening = true;
    document.addEventListener("focusin", e => {
      window.__kb.add(e.target);
      if (e.target.tagName === "TEXTAREA") e.target.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape", bubbles: true}));
    }, true);
  }
  document.activeElement && document.activeElement.blur();
  return window.__kbEls.length;
})()`

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// audit checks the page the browser is on, once per URL: axe's serious
// and critical violations, and that Tab reaches every control.
func (b *browser) audit() {
	b.t.Helper()
	src := axeSource()
	if src == "" {
		if os.Getenv("CI") != "" {
			b.t.Fatal("axe-core is not installed: run npm ci --prefix e2e/axe (.ci/run does)")
		}
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || b.audited[loc] || strings.HasPrefix(loc, "data:") || strings.HasPrefix(loc, "about:") {
		return
	}
	b.audited[loc] = true
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(typeof axe === "undefined" ? (0, eval)(`+jsonString(src)+`) : 0, `+axeViolations+`)`, chromedp.EvalAwaitPromise))
	if b.navigatedAway(ctx, loc, err) {
		delete(b.audited, loc) // checked when a test waits on it
		return
	}
	if err != nil {
		b.t.Errorf("axe on %s: %v", loc, err)
		return
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		b.t.Errorf("axe on %s: %v", loc, err)
		return
	}
	for _, v := range vs {
		b.t.Errorf("accessibility (%s, axe %s) on %s: %s\n  %s", v.Impact, v.ID, loc, v.Help, strings.Join(v.Nodes, "\n  "))
	}
	b.keyboard(ctx, loc)
}

// navigatedAway reports whether the page being checked went away under
// the check: the test's last action (a click that submits a form) started
// a navigation that it does not wait for, and the check failed with it
// (err), or ran, without an error, on the next page while it was still
// loading (a link whose text was not parsed yet). That page is not the
// one the test goes on with: it is checked when a test waits on it.
func (b *browser) navigatedAway(ctx context.Context, loc string, err error) bool {
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "Inspected target navigated or closed") || strings.Contains(msg, "Execution context was destroyed") ||
			strings.Contains(msg, "Cannot find context with specified id") {
			return true
		}
	}
	now, lerr := chromedp.Run(ctx, chromedp.Location())
	return lerr == nil && now != loc
}

// keyboard presses Tab through the page and reports the controls it never
// reaches.
func (b *browser) keyboard(ctx context.Context, loc string) {
	b.t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](keyboardTargets))
	if b.navigatedAway(ctx, loc, err) {
		delete(b.audited, loc)
		return
	}
	if err != nil {
		b.t.Errorf("keyboard on %s: %v", loc, err)
		return
	}
	// A date-time field takes several Tab stops; stop once all are seen.
	for pressed := 0; pressed < 6*n+30; pressed += 10 {
		tabs := make([]chromedp.Action[chromedp.Void], 10)
		for i := range tabs {
			tabs[i] = chromedp.KeyEvent(kb.Tab)
		}
		if err := chromedp.Do(ctx, tabs...); err != nil {
			b.t.Errorf("keyboard on %s: %v", loc, err)
			return
		}
		if seen, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__kbEls.filter(e => window.__kb.has(e)).length`)); err != nil || seen >= n {
			break
		}
	}
	missed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__kbEls.filter(e => !window.__kb.has(e)).map(e => e.outerHTML.slice(0, 160))`))
	if b.navigatedAway(ctx, loc, err) {
		delete(b.audited, loc)
		return
	}
	if err != nil {
		b.t.Errorf("keyboard on %s: %v", loc, err)
		return
	}
	for _, html := range missed {
		b.t.Errorf("keyboard: Tab never reaches %s on %s", html, loc)
	}
	_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
