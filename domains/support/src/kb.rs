//! Knowledge base: categories and articles for the public site (added next).
