package runtime

// TokenKey exposes the store key of a resume token to the external tests.
var TokenKey = tokenKey
