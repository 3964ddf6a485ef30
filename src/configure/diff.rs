//! A unified diff of two small texts, for `configure --dry-run`.
//!
//! Our edits touch one region of a file, so the common head and tail are trimmed first and
//! only the middle goes through a longest-common-subsequence table; a middle too large for
//! the table is shown as a plain replacement, which is still a correct diff.

/// Lines of context around each change, as `diff -u` shows.
const CONTEXT: usize = 3;

/// Above this many table cells the middle is shown as removed-then-added.
const MAX_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Del,
    Add,
}

/// `--- old_name` / `+++ new_name` and `@@` hunks; empty when the texts are equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = script(&a, &b);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for hunk in hunks(&ops) {
        render(&mut out, &ops[hunk.0..hunk.1], &a, &b, &ops[..hunk.0]);
    }
    out
}

/// The edit script: one op per line of the longer walk through both texts.
fn script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut ops = vec![Op::Same; head];
    if ma.len().saturating_mul(mb.len()) > MAX_CELLS {
        ops.extend(std::iter::repeat_n(Op::Del, ma.len()));
        ops.extend(std::iter::repeat_n(Op::Add, mb.len()));
    } else {
        ops.extend(lcs_script(ma, mb));
    }
    ops.extend(std::iter::repeat_n(Op::Same, tail));
    ops
}

fn lcs_script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    // len[i][j]: LCS length of a[i..] and b[j..].
    let mut len = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[at(i, j)] = if a[i] == b[j] {
                len[at(i + 1, j + 1)] + 1
            } else {
                len[at(i + 1, j)].max(len[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same);
            i += 1;
            j += 1;
        } else if i < n && (j == m || len[at(i + 1, j)] >= len[at(i, j + 1)]) {
            // On a tie, deletions go first, as diff shows them.
            ops.push(Op::Del);
            i += 1;
        } else {
            ops.push(Op::Add);
            j += 1;
        }
    }
    ops
}

/// Ranges of the script to show: each change with its context, overlapping ones merged.
fn hunks(ops: &[Op]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (k, op) in ops.iter().enumerate() {
        if *op == Op::Same {
            continue;
        }
        let (start, end) = (k.saturating_sub(CONTEXT), (k + 1 + CONTEXT).min(ops.len()));
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => out.push((start, end)),
        }
    }
    out
}

fn render(out: &mut String, ops: &[Op], a: &[&str], b: &[&str], before: &[Op]) {
    let a_start = before.iter().filter(|o| **o != Op::Add).count();
    let b_start = before.iter().filter(|o| **o != Op::Del).count();
    let a_len = ops.iter().filter(|o| **o != Op::Add).count();
    let b_len = ops.iter().filter(|o| **o != Op::Del).count();
    // diff numbers lines from 1, and an empty side from the line before it.
    let pos = |start: usize, len: usize| if len == 0 { start } else { start + 1 };
    out.push_str(&format!(
        "@@ -{},{a_len} +{},{b_len} @@\n",
        pos(a_start, a_len),
        pos(b_start, b_len)
    ));
    let (mut i, mut j) = (a_start, b_start);
    for op in ops {
        let line = match op {
            Op::Same => {
                i += 1;
                j += 1;
                format!(" {}", a[i - 1])
            }
            Op::Del => {
                i += 1;
                format!("-{}", a[i - 1])
            }
            Op::Add => {
                j += 1;
                format!("+{}", b[j - 1])
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", "y"), "");
    }

    #[test]
    fn one_insertion_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n";
        let new = "1\n2\n3\n4\n4a\n5\n6\n7\n8\n";
        assert_eq!(
            unified(old, new, "a/f", "b/f"),
            "--- a/f\n+++ b/f\n@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+4a\n 5\n 6\n 7\n"
        );
    }

    #[test]
    fn change_replace_and_separate_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new: String = (1..=20)
            .filter(|i| *i != 18)
            .map(|i| {
                if i == 2 {
                    "two\n".into()
                } else {
                    format!("{i}\n")
                }
            })
            .collect();
        assert_eq!(
            unified(&old, &new, "o", "n"),
            "--- o\n+++ n\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -15,6 +15,5 @@\n 15\n 16\n 17\n-18\n 19\n 20\n"
        );
    }

    #[test]
    fn from_nothing_and_to_nothing() {
        assert_eq!(
            unified("", "{\n}\n", "/dev/null", "f"),
            "--- /dev/null\n+++ f\n@@ -0,0 +1,2 @@\n+{\n+}\n"
        );
        assert_eq!(
            unified("a\n", "", "f", "f"),
            "--- f\n+++ f\n@@ -1,1 +0,0 @@\n-a\n"
        );
    }

    #[test]
    fn a_huge_middle_falls_back_to_replacement() {
        let old: String = (0..3000).map(|i| format!("o{i}\n")).collect();
        let new: String = (0..3000).map(|i| format!("n{i}\n")).collect();
        let d = unified(&old, &new, "o", "n");
        assert!(d.starts_with("--- o\n+++ n\n@@ -1,3000 +1,3000 @@\n-o0\n"));
        assert_eq!(d.lines().filter(|l| l.starts_with('-')).count(), 3001);
    }
}
