//! The demo's report: Markdown with pictures beside it, and the same as one self-contained HTML
//! page with the pictures embedded.

use crate::error::{Error, Result};
use std::path::Path;

/// One block of the report.
pub enum Block {
    /// A section heading.
    Heading(String),
    /// A paragraph (Markdown inline syntax: `code` and **bold** only).
    Text(String),
    /// A picture: path relative to the report, and its caption.
    Picture(String, String),
    /// A table: header and rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// Preformatted text.
    Code(String),
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `code` and **bold** as HTML.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut code = false;
    let mut bold = false;
    let e = escape(s);
    let mut rest = e.as_str();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("**") {
            out.push_str(if bold { "</b>" } else { "<b>" });
            bold = !bold;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('`') {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = r;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Writes REPORT.md and report.html into `dir`; pictures are read from `dir`.
pub fn write(dir: &Path, title: &str, blocks: &[Block]) -> Result<()> {
    let mut md = format!("# {title}\n\n");
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font-family:sans-serif;max-width:980px;margin:2em auto;line-height:1.5;color:#222}}\
         table{{border-collapse:collapse;font-size:0.9em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         th{{background:#f3f3f3}}img{{max-width:100%}}figure{{margin:1em 0}}figcaption{{color:#555;font-size:0.9em}}\
         pre{{background:#f6f6f6;padding:0.8em;overflow-x:auto}}</style></head><body><h1>{t}</h1>\n",
        t = escape(title)
    );
    for b in blocks {
        match b {
            Block::Heading(h) => {
                md.push_str(&format!("## {h}\n\n"));
                html.push_str(&format!("<h2>{}</h2>\n", escape(h)));
            }
            Block::Text(t) => {
                md.push_str(&format!("{t}\n\n"));
                html.push_str(&format!("<p>{}</p>\n", inline(t)));
            }
            Block::Picture(path, caption) => {
                md.push_str(&format!("![{caption}]({path})\n\n*{caption}*\n\n"));
                let bytes = std::fs::read(dir.join(path)).map_err(|source| Error::Io {
                    path: dir.join(path),
                    source,
                })?;
                html.push_str(&format!(
                    "<figure><img alt=\"{c}\" src=\"data:image/png;base64,{}\"><figcaption>{c}</figcaption></figure>\n",
                    base64(&bytes),
                    c = escape(caption)
                ));
            }
            Block::Table(head, rows) => {
                md.push_str(&format!(
                    "| {} |\n|{}\n",
                    head.join(" | "),
                    "---|".repeat(head.len())
                ));
                html.push_str("<table><tr>");
                for h in head {
                    html.push_str(&format!("<th>{}</th>", escape(h)));
                }
                html.push_str("</tr>\n");
                for r in rows {
                    md.push_str(&format!("| {} |\n", r.join(" | ")));
                    html.push_str("<tr>");
                    for c in r {
                        html.push_str(&format!("<td>{}</td>", inline(c)));
                    }
                    html.push_str("</tr>\n");
                }
                md.push('\n');
                html.push_str("</table>\n");
            }
            Block::Code(c) => {
                md.push_str(&format!("```\n{c}\n```\n\n"));
                html.push_str(&format!("<pre>{}</pre>\n", escape(c)));
            }
        }
    }
    html.push_str("</body></html>\n");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::write(dir.join("REPORT.md"), md).map_err(io(&dir.join("REPORT.md")))?;
    std::fs::write(dir.join("report.html"), html).map_err(io(&dir.join("report.html")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn inline_markup_becomes_html() {
        assert_eq!(
            inline("a `b` **c** <d>"),
            "a <code>b</code> <b>c</b> &lt;d&gt;"
        );
    }
}
