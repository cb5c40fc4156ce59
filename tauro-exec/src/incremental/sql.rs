//! SQL text as it counts for a fingerprint.
//!
//! A small Spark SQL tokenizer: the normalised text is the token sequence joined by single
//! spaces, where
//! - whitespace, `-- line` comments and `/* block */` comments (nested ones too) do not count;
//! - unquoted words (keywords and identifiers, which Spark resolves case-insensitively) and
//!   numbers are lower-cased;
//! - string literals (`'..'`, `".."`, raw `r'..'`) and quoted identifiers (`` `..` ``) are
//!   kept verbatim, quotes and escapes included, so their case and spacing count;
//! - named parameters (`:start_date`) are kept verbatim (Spark binds them by exact name);
//! - optimizer hints (`/*+ BROADCAST(t) */`) are not comments: they are tokenised too.
//!
//! Known limit: an alias renamed only in case (`AS userId` → `AS userid`) keeps the
//! fingerprint, although the written column's case changes; quote it (`` AS `userId` ``)
//! when the case matters.
//!
//! Tokenising mistakes can only make the text *more* sensitive (something kept verbatim that
//! could have been normalised), never hide a change inside a literal.

/// The normalised text of a SQL query and what it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NormalizedSql {
    /// Tokens joined by single spaces.
    pub(crate) text: String,
    /// True when the query names `:start_date` or `:end_date` (outside literals and
    /// comments; compared case-insensitively, to be safe).
    pub(crate) uses_dates: bool,
}

/// Normalises `sql` (see the module docs).
pub(crate) fn normalize_sql(sql: &str) -> NormalizedSql {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Tokens::default();
    let mut i = 0;
    let mut in_hint = false;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            out.separate();
            i += 1;
        } else if c == '-' && next == Some('-') {
            out.separate();
            i = skip_line(&chars, i);
        } else if c == '/' && next == Some('*') && chars.get(i + 2) == Some(&'+') {
            out.push("/*+".to_string());
            in_hint = true;
            i += 3;
        } else if c == '/' && next == Some('*') {
            out.separate();
            i = skip_block(&chars, i);
        } else if in_hint && c == '*' && next == Some('/') {
            out.push("*/".to_string());
            in_hint = false;
            i += 2;
        } else if c == '\'' || c == '"' {
            let raw = out.adjacent_word().is_some_and(|w| w == "r");
            let end = quoted_end(&chars, i, c, !raw);
            out.push_glued(chars[i..end].iter().collect());
            i = end;
        } else if c == '`' {
            let end = quoted_end(&chars, i, '`', false);
            out.push(chars[i..end].iter().collect());
            i = end;
        } else if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            let end = number_end(&chars, i);
            out.push_word(chars[i..end].iter().collect::<String>().to_lowercase());
            i = end;
        } else if is_word_char(c) {
            let end = word_end(&chars, i);
            out.push_word(chars[i..end].iter().collect::<String>().to_lowercase());
            i = end;
        } else if c == ':'
            && next.is_some_and(|n| n.is_alphabetic() || n == '_')
            && (i == 0 || chars[i - 1] != ':')
        {
            let end = word_end(&chars, i + 1);
            let name: String = chars[i + 1..end].iter().collect();
            if name.eq_ignore_ascii_case("start_date") || name.eq_ignore_ascii_case("end_date") {
                out.uses_dates = true;
            }
            out.push(format!(":{name}"));
            i = end;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    NormalizedSql {
        text: out.tokens.join(" "),
        uses_dates: out.uses_dates,
    }
}

#[derive(Default)]
struct Tokens {
    tokens: Vec<String>,
    /// The last token was a word and nothing separated it from what follows.
    word_adjacent: bool,
    uses_dates: bool,
}

impl Tokens {
    fn push(&mut self, token: String) {
        self.tokens.push(token);
        self.word_adjacent = false;
    }

    fn push_word(&mut self, token: String) {
        self.tokens.push(token);
        self.word_adjacent = true;
    }

    /// A string literal: glued to a directly preceding `r` (raw string prefix) so that
    /// `r'x'` and `r 'x'` (an alias) stay different.
    fn push_glued(&mut self, literal: String) {
        if self.adjacent_word().is_some_and(|w| w == "r")
            && let Some(last) = self.tokens.last_mut()
        {
            last.push_str(&literal);
            self.word_adjacent = false;
            return;
        }
        self.push(literal);
    }

    fn separate(&mut self) {
        self.word_adjacent = false;
    }

    fn adjacent_word(&self) -> Option<&str> {
        if self.word_adjacent {
            self.tokens.last().map(String::as_str)
        } else {
            None
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn word_end(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && is_word_char(chars[i]) {
        i += 1;
    }
    i
}

/// `123`, `1.5`, `.5`, `1e-3`, `10L`, `1.0BD`.
fn number_end(chars: &[char], mut i: usize) -> usize {
    let digits = |mut i: usize| {
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    i = digits(i);
    if chars.get(i) == Some(&'.') {
        i = digits(i + 1);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if chars.get(j).is_some_and(char::is_ascii_digit) {
            i = digits(j);
        }
    }
    word_end(chars, i)
}

/// Index after a `--` comment (its newline is whitespace anyway).
fn skip_line(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i] != '\n' {
        i += 1;
    }
    i
}

/// Index after a `/* */` comment, nested comments included (an unclosed one runs to the end).
fn skip_block(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// Index after the quoted token starting at `start` with `quote`: a doubled quote stays
/// inside; with `escapes`, so does a backslash and the character after it. An unclosed
/// quote runs to the end.
fn quoted_end(chars: &[char], start: usize, quote: char, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if escapes && c == '\\' {
            i += 2;
        } else if c == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(sql: &str) -> String {
        normalize_sql(sql).text
    }

    #[test]
    fn whitespace_does_not_count() {
        let a = "SELECT a, b FROM t WHERE x = 1";
        let b = "  SELECT a ,\n\tb\r\nFROM   t\nWHERE x=1  ";
        assert_eq!(norm(a), norm(b));
        assert_eq!(norm(a), "select a , b from t where x = 1");
    }

    #[test]
    fn comments_do_not_count() {
        let a = "SELECT a FROM t";
        let b = "-- header\nSELECT /* the column */ a -- trailing\nFROM t /* outer /* nested */ still */";
        assert_eq!(norm(a), norm(b));
        // `--` inside a literal is not a comment; minus minus with a space is two operators.
        assert_eq!(norm("SELECT '--x' FROM t"), "select '--x' from t");
        assert_ne!(norm("SELECT a - -1"), norm("SELECT a --1"));
    }

    #[test]
    fn keyword_and_identifier_case_do_not_count() {
        assert_eq!(
            norm("select Id, COUNT(*) from Orders group by Id"),
            norm("SELECT id, count(*) FROM orders GROUP BY id")
        );
        assert_eq!(norm("SELECT 1E3, 10L"), norm("select 1e3, 10l"));
    }

    #[test]
    fn literal_and_quoted_identifier_case_count() {
        assert_ne!(
            norm("SELECT * FROM t WHERE s = 'Paris'"),
            norm("SELECT * FROM t WHERE s = 'paris'")
        );
        assert_ne!(norm("SELECT \"A\""), norm("SELECT \"a\""));
        assert_ne!(norm("SELECT `Col` FROM t"), norm("SELECT `col` FROM t"));
        // Spacing inside a literal counts too.
        assert_ne!(norm("SELECT 'a  b'"), norm("SELECT 'a b'"));
    }

    #[test]
    fn escapes_and_doubled_quotes_stay_inside_literals() {
        assert_eq!(norm("SELECT 'it''s' AS X"), "select 'it''s' as x");
        assert_eq!(
            norm(r"SELECT 'a\'b -- no comment' FROM T"),
            r"select 'a\'b -- no comment' from t"
        );
        assert_eq!(norm("SELECT `we``ird` FROM T"), "select `we``ird` from t");
        // Raw strings: the backslash does not escape the quote.
        assert_eq!(norm(r"SELECT r'C:\' AS P"), r"select r'C:\' as p");
        assert_ne!(norm("SELECT r'x'"), norm("SELECT r 'x'"));
    }

    #[test]
    fn numbers_keep_their_shape() {
        assert_ne!(norm("SELECT 1.5"), norm("SELECT 1 . 5"));
        assert_eq!(norm("SELECT .5 + 1.0BD"), "select .5 + 1.0bd");
    }

    #[test]
    fn date_parameters_are_detected_outside_literals_and_comments() {
        assert!(normalize_sql("SELECT * FROM t WHERE d >= :start_date").uses_dates);
        assert!(normalize_sql("SELECT * FROM t WHERE d <= :END_DATE").uses_dates);
        assert!(!normalize_sql("SELECT ':start_date' -- :end_date").uses_dates);
        assert!(!normalize_sql("SELECT x::date /* :start_date */ FROM t").uses_dates);
        // Parameter names are kept as written.
        assert_eq!(norm("SELECT :Start_Date"), "select :Start_Date");
        assert_eq!(norm("SELECT a::INT"), "select a : : int");
    }

    #[test]
    fn hints_are_not_comments() {
        assert_ne!(
            norm("SELECT /*+ BROADCAST(d) */ * FROM f JOIN d"),
            norm("SELECT * FROM f JOIN d")
        );
        assert_eq!(
            norm("SELECT /*+  broadcast(D)   */ 1"),
            norm("SELECT /*+ BROADCAST(d) */ 1")
        );
    }
}
