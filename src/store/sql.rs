//! A `WHERE` clause built from optional filters, with `$N` placeholders numbered as values are
//! added, so list queries bind every value and never splice one into the SQL text.

use sqlx::any::AnyArguments;
use sqlx::query::Query;

/// A value to bind.
#[derive(Clone, Debug)]
pub enum Bind {
    Int(i64),
    Text(String),
}

/// `a AND b AND …` with its values.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    parts: Vec<String>,
    binds: Vec<Bind>,
}

impl Conditions {
    /// Adds a condition whose `?` marks are the placeholders of `values`, in order.
    pub fn and(&mut self, template: &str, values: impl IntoIterator<Item = Bind>) {
        let mut values = values.into_iter();
        let mut sql = String::with_capacity(template.len() + 8);
        for ch in template.chars() {
            if ch == '?'
                && let Some(value) = values.next()
            {
                self.binds.push(value);
                sql.push_str(&format!("${}", self.binds.len()));
                continue;
            }
            sql.push(ch);
        }
        self.parts.push(sql);
    }

    /// `column IN (…)` for a non-empty list.
    pub fn and_in(&mut self, column: &str, values: &[i64]) {
        if values.is_empty() {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.and(
            &format!("{column} IN ({marks})"),
            values.iter().map(|v| Bind::Int(*v)),
        );
    }

    /// Adds a value without a condition and gives its placeholder, for a statement that uses
    /// the conditions in several places with a value of its own in each.
    pub fn value(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// How many conditions were added.
    pub fn count(&self) -> usize {
        self.parts.len()
    }

    /// The clause text (`TRUE`-like `1 = 1` when empty).
    pub fn sql(&self) -> String {
        if self.parts.is_empty() {
            "1 = 1".to_owned()
        } else {
            self.parts.join(" AND ")
        }
    }

    /// The placeholder number the next value will get.
    pub fn next_placeholder(&self) -> usize {
        self.binds.len() + 1
    }

    /// Binds the values, in order, to a query built from [`Conditions::sql`].
    pub fn bind_to<'q>(
        &self,
        mut query: Query<'q, sqlx::Any, AnyArguments>,
    ) -> Query<'q, sqlx::Any, AnyArguments> {
        for value in &self.binds {
            query = match value {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }
}

/// `%text%` with LIKE's own characters escaped (use with `ESCAPE '\'`), so the filter is a
/// plain substring match.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut c = Conditions::default();
        c.and("a = ?", [Bind::Int(1)]);
        c.and_in("b", &[2, 3]);
        c.and("(x, y) < (?, ?)", [Bind::Int(4), Bind::Text("z".into())]);
        assert_eq!(c.sql(), "a = $1 AND b IN ($2, $3) AND (x, y) < ($4, $5)");
        assert_eq!(c.next_placeholder(), 6);
        assert_eq!(Conditions::default().sql(), "1 = 1");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
