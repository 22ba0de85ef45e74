//! Categories and tags: two small lists administrators manage, of one shape.

/// A category or a tag: a name and one line of text (description or keyword).
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub id: i64,
    pub name: String,
    /// `description` of a category, `keyword` of a tag.
    pub detail: String,
    pub active: bool,
}

/// The two lists share their shape; the table and detail column differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catalog {
    Categories,
    Tags,
}
