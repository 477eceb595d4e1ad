//! The pages, rendered from view types.

use std::fmt::Write;

use crate::html::{duration, escape, page, size, url_segment};
use crate::view::{BuildPage, BuildRow, CheckView, Overview, PackagePage, StepRow};

/// Statuses after which a build's log no longer changes.
fn finished(status: &str) -> bool {
    !matches!(status, "queued" | "running")
}

fn status_cell(status: &str) -> String {
    format!("<span class=\"status {0}\">{0}</span>", escape(status))
}

/// Step timings as one bar split in proportion to each step's duration.
fn step_bars(steps: &[StepRow]) -> String {
    let total: u64 = steps.iter().map(|s| s.duration_ms).sum();
    if steps.is_empty() || total == 0 {
        return String::new();
    }
    let mut out = String::from("<div class=\"bars\">");
    for step in steps {
        let width = step.duration_ms as f64 * 100.0 / total as f64;
        let _ = write!(
            out,
            "<div class=\"bar\" style=\"width:{width:.2}%\" title=\"{}: {}\"></div>",
            escape(&step.name),
            duration(step.duration_ms)
        );
    }
    out.push_str("</div>");
    out
}

fn build_table(id: &str, rows: &[BuildRow], empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p id=\"{id}\" class=\"empty\">{}</p>", escape(empty));
    }
    let mut out = format!(
        "<table id=\"{id}\"><thead><tr><th>build</th><th>package</th><th>status</th><th>duration</th><th>steps</th></tr></thead><tbody>"
    );
    for b in rows {
        let what = b.coordinate.clone().unwrap_or_else(|| b.source.clone());
        let _ = write!(
            out,
            "<tr data-build=\"{0}\"><td><a href=\"/-/builds/{0}\">#{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td></tr>",
            b.id,
            escape(&what),
            status_cell(&b.status),
            b.duration_ms.map(duration).unwrap_or_default(),
            step_bars(&b.steps),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// The front page.
pub fn overview_page(o: &Overview) -> String {
    let mut body = String::from("<h1>bale</h1>");
    body.push_str("<h2 id=\"builds\">Queue</h2>");
    body.push_str(&build_table("queue", &o.queue, "Nothing queued."));
    body.push_str("<h2>Recent builds</h2>");
    body.push_str(&build_table("recent", &o.recent, "No builds yet."));

    body.push_str("<h2 id=\"packages\">Packages</h2>");
    if o.packages.is_empty() {
        body.push_str("<p class=\"empty\">No packages published.</p>");
    } else {
        body.push_str("<table id=\"package-list\"><thead><tr><th>package</th><th>arch</th><th>size</th><th>signed by</th></tr></thead><tbody>");
        for p in &o.packages {
            let _ = write!(
                body,
                "<tr><td><a href=\"/-/packages/{}?arch={}\">{}</a></td><td class=\"arch\">{}</td><td>{}</td><td>{}</td></tr>",
                url_segment(&p.coordinate),
                url_segment(&p.arch),
                escape(&p.coordinate),
                escape(&p.arch),
                size(p.size),
                escape(p.key_id.as_deref().unwrap_or("unsigned")),
            );
        }
        body.push_str("</tbody></table>");
    }

    body.push_str("<h2 id=\"stacks\">Stacks</h2>");
    if o.stacks.is_empty() {
        body.push_str("<p class=\"empty\">No stacks configured.</p>");
    } else {
        body.push_str("<table id=\"stack-list\"><thead><tr><th>stack</th><th>state</th><th>size</th><th>digest</th></tr></thead><tbody>");
        for s in &o.stacks {
            let digest = s
                .digest
                .as_deref()
                .map(|d| d.chars().take(16).collect::<String>())
                .unwrap_or_default();
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                escape(&s.name),
                escape(&s.state),
                s.size.map(size).unwrap_or_default(),
                escape(&digest),
            );
        }
        body.push_str("</tbody></table>");
    }

    body.push_str("<h2 id=\"apps\">Apps on this machine</h2>");
    if o.apps.is_empty() {
        body.push_str("<p class=\"empty\">No apps deployed.</p>");
    } else {
        body.push_str("<table id=\"app-list\"><thead><tr><th>app</th><th>package</th><th>services</th></tr></thead><tbody>");
        for a in &o.apps {
            let services: Vec<String> = a
                .services
                .iter()
                .map(|(name, state)| format!("{}: {}", escape(name), escape(state)))
                .collect();
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&a.name),
                escape(a.coordinate.as_deref().unwrap_or("none")),
                services.join("<br>"),
            );
        }
        body.push_str("</tbody></table>");
    }
    // While anything waits or runs, the page refreshes itself; reading needs no script.
    let script = (!o.queue.is_empty()).then_some("setTimeout(function(){location.reload()},3000);");
    page("builds", &body, script)
}

/// One build: its record, its steps and its log, followed live while it runs.
pub fn build_page(p: &BuildPage) -> String {
    let b = &p.build;
    let mut body = format!("<h1>Build #{}</h1><table id=\"build\">", b.id);
    let mut row = |k: &str, v: String| {
        let _ = write!(body, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row("status", status_cell(&b.status));
    row(
        "package",
        escape(b.coordinate.as_deref().unwrap_or("not yet known")),
    );
    row("source", escape(&b.source));
    if let Some(commit) = &p.commit {
        row("commit", format!("<code>{}</code>", escape(commit)));
    }
    if let Some(who) = &p.requested_by {
        row("requested by", escape(who));
    }
    if let Some(worker) = &p.worker {
        row("worker", escape(worker));
    }
    if let Some(ms) = b.duration_ms {
        row("duration", duration(ms));
    }
    if let Some(check) = &p.check {
        row("reproducibility", check_summary(check));
    }
    if let Some(error) = &b.error {
        row(
            "error",
            format!("<span class=\"failed\">{}</span>", escape(error)),
        );
    }
    body.push_str("</table>");
    if let Some(check) = p.check.as_ref().filter(|c| !c.differences.is_empty()) {
        body.push_str("<h2>What differs between the two builds</h2>");
        body.push_str("<table id=\"differences\"><thead><tr><th>path</th><th>change</th><th>facts</th></tr></thead><tbody>");
        for d in &check.differences {
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(&d.path),
                escape(&d.change),
                escape(&d.facts.join(", ")),
            );
        }
        body.push_str("</tbody></table>");
    }
    if !b.steps.is_empty() {
        body.push_str("<h2>Steps</h2>");
        body.push_str(&step_bars(&b.steps));
        body.push_str("<table id=\"steps\"><thead><tr><th>step</th><th>status</th><th>duration</th></tr></thead><tbody>");
        for s in &b.steps {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.name),
                status_cell(&s.status),
                duration(s.duration_ms)
            );
        }
        body.push_str("</tbody></table>");
    }
    let _ = write!(
        body,
        "<h2>Log</h2><pre class=\"log\" id=\"log\">{}</pre>",
        escape(&p.log)
    );
    let script = (!finished(&b.status)).then(|| live_log_script(b.id));
    page(&format!("build #{}", b.id), &body, script.as_deref())
}

/// One line on a build's reproducibility check: its outcome and both workers.
fn check_summary(check: &CheckView) -> String {
    let first = escape(&check.first_worker);
    let second = check.second_worker.as_deref().map(escape);
    match (check.outcome.as_str(), second) {
        ("reproducible", Some(second)) => {
            format!("<span class=\"status succeeded\">reproducible</span>: identical packages built by {first} and {second}")
        }
        ("not-reproducible", Some(second)) => format!(
            "<span class=\"status not-reproducible\">not reproducible</span>: the packages built by {first} and {second} differ"
        ),
        _ => format!("pending: the first package was built by {first}; a second build compares"),
    }
}

/// Follows the build's log over server-sent events, replacing the rendered
/// text with the stream (which starts from the first line); the `end`
/// event carries the final status, shown in place.
fn live_log_script(id: i64) -> String {
    format!(
        "(function(){{var pre=document.getElementById('log');var first=true;\
var es=new EventSource('/api/v1/builds/{id}/log');\
function add(e){{if(first){{pre.textContent='';first=false;}}pre.textContent+=e.data+'\\n';pre.scrollTop=pre.scrollHeight;}}\
es.onmessage=add;\
es.addEventListener('end',function(e){{es.close();var s=document.querySelector('#build .status');\
if(s&&e.data){{s.textContent=e.data;s.className='status '+e.data;}}}});\
es.onerror=function(){{es.close();setTimeout(function(){{location.reload()}},3000);}};}})();"
    )
}

/// One package: its files with class, size and linkage.
pub fn package_page(p: &PackagePage) -> String {
    let pkg = &p.package;
    let mut body = format!(
        "<h1>{}</h1><p><span class=\"arch\">{}</span> · {} · signed by {}</p>",
        escape(&pkg.coordinate),
        escape(&pkg.arch),
        size(pkg.size),
        escape(pkg.key_id.as_deref().unwrap_or("nobody (unsigned)"))
    );
    if !p.attestations.is_empty() {
        let links: Vec<String> = p
            .attestations
            .iter()
            .map(|a| format!("<a href=\"{}\">{}</a>", escape(&a.href), escape(&a.label)))
            .collect();
        let _ = write!(
            body,
            "<p id=\"attestations\">SBOM and provenance: {}</p>",
            links.join(" · ")
        );
    }
    body.push_str("<table id=\"files\"><thead><tr><th>path</th><th>class</th><th>size</th><th>linkage</th><th>needs</th></tr></thead><tbody>");
    for f in &p.files {
        let _ = write!(
            body,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&f.path),
            escape(&f.class),
            size(f.size),
            escape(f.linkage.as_deref().unwrap_or("")),
            escape(&f.needed.join(", ")),
        );
    }
    body.push_str("</tbody></table>");
    page(&pkg.coordinate, &body, None)
}
