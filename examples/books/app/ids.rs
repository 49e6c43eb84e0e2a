//! The books API's package ids (the numbering of the Python design, whose clients keep working).

pkg_router::pkg_ids! {
    /// Every package id of the books API.
    pub PkgID {
        /// List authors, optionally filtered by name.
        GET_AUTHORS = 1,
        /// List authors a page at a time.
        GET_PAGINATED_AUTHORS = 2,
        /// Create a book.
        CREATE_BOOK = 3,
        /// List books a page at a time, with filters and an optional embedded author.
        GET_BOOKS = 4,
        /// Change some fields of a book.
        UPDATE_BOOK = 5,
        /// Delete a book.
        DELETE_BOOK = 6,
        /// Create an author.
        CREATE_AUTHOR = 7,
        /// Version, handler count and live connection count.
        SERVER_INFO = 8,
        /// Push: a book was created.
        #[push]
        BOOK_CREATED = 100,
        /// Push: a book was changed.
        #[push]
        BOOK_UPDATED = 101,
        /// Push: a book was deleted.
        #[push]
        BOOK_DELETED = 102,
    }
}
