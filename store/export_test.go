package store

// SetDeleteBatch makes ResourceDeleteExcept work in batches of n, so tests
// cross batch boundaries with few resources.
func (db *DB) SetDeleteBatch(n int) { db.deleteBatch = n }
