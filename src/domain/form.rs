//! How an operation's input collects its fields: the raw values sent under each name
//! ([`Fields`]), one field parsed ([`Field`]), and every field joined ([`AllFields::all`]),
//! which reports every field's messages together or yields every value, so that no field can
//! be missing afterwards. [`Choice`] is how an enumeration is chosen by its code.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::fields::Raw;

/// The fields of a body or a query string, whatever their encoding: every value sent under
/// each name, in order.
#[derive(Debug, Default)]
pub struct Fields(HashMap<String, Vec<Raw>>);

impl Fields {
    /// The value of a single-valued field; the last one wins when it was repeated, as in Django.
    pub fn get(&self, name: &str) -> Option<&Raw> {
        self.0.get(name).and_then(|values| values.last())
    }

    /// Every value sent under `name`, in order.
    pub fn all(&self, name: &str) -> &[Raw] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn push(&mut self, name: String, value: Raw) {
        self.0.entry(name).or_default().push(value);
    }

    /// The parameters of a query string, as text.
    pub fn from_query(query: Option<&str>) -> Self {
        let mut fields = Self::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            fields.push(name.into_owned(), Raw::Text(value.into_owned()));
        }
        fields
    }

    /// A query parameter's last value as text, empty or blank counting as absent.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) if !s.trim().is_empty() => {
                Some(s.clone())
            }
            _ => None,
        }
    }
}

/// Messages per field, reported together.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn one(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    pub fn merge(&mut self, other: Self) {
        for (field, messages) in other.0 {
            self.0.entry(field).or_default().extend(messages);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The messages, by field name.
    pub fn as_map(&self) -> &BTreeMap<String, Vec<String>> {
        &self.0
    }
}

/// One field parsed: its value, or its messages.
pub type Field<T> = Result<T, FieldErrors>;

/// Names the message of a one-field parse.
pub fn field<T, E: Into<String>>(name: &str, result: Result<T, E>) -> Field<T> {
    result.map_err(|message| FieldErrors::one(name, message))
}

/// Every field of an input together: all the values, or every field's messages.
pub trait AllFields {
    type Values;
    fn all(self) -> Result<Self::Values, FieldErrors>;
}

macro_rules! all_fields {
    ($($t:ident $v:ident),+) => {
        impl<$($t),+> AllFields for ($(Field<$t>,)+) {
            type Values = ($($t,)+);
            fn all(self) -> Result<Self::Values, FieldErrors> {
                let ($($v,)+) = self;
                let mut errors = FieldErrors::default();
                $(let $v = $v.map_err(|e| errors.merge(e));)+
                match ($($v,)+) {
                    ($(Ok($v),)+) => Ok(($($v,)+)),
                    _ => Err(errors),
                }
            }
        }
    };
}
all_fields!(A a);
all_fields!(A a, B b);
all_fields!(A a, B b, C c);
all_fields!(A a, B b, C c, D d);
all_fields!(A a, B b, C c, D d, E e);
all_fields!(A a, B b, C c, D d, E e, F f);
all_fields!(A a, B b, C c, D d, E e, F f, G g);
all_fields!(A a, B b, C c, D d, E e, F f, G g, H h);
all_fields!(A a, B b, C c, D d, E e, F f, G g, H h, I i);
all_fields!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j);
all_fields!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k);
all_fields!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l);

/// An enumeration clients choose from by a code (`"2"`, `"agent"`): the codes are written once,
/// beside the type, and every parse and message goes through them.
pub trait Choice: Copy + 'static {
    const CHOICES: &'static [(&'static str, Self)];

    /// The code a value is sent and shown as.
    fn code_text(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::CHOICES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(code, _)| code)
    }

    /// The value of a code, exactly as written.
    fn from_code_text(text: &str) -> Option<Self> {
        Self::CHOICES
            .iter()
            .find(|(code, _)| *code == text)
            .map(|(_, v)| *v)
    }
}
