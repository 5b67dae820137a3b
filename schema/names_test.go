package schema

import "testing"

func TestGoName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"name", "Name"},
		{"user_id", "UserID"},
		{"userId", "UserID"},
		{"userID", "UserID"},
		{"UserID", "UserID"},
		{"id", "ID"},
		{"url", "URL"},
		{"avatarUrl", "AvatarURL"},
		{"avatar_url", "AvatarURL"},
		{"uuid", "UUID"},
		{"sessionUuid", "SessionUUID"},
		{"http", "HTTP"},
		{"HTTPError", "HTTPError"},
		{"httpServer", "HTTPServer"},
		{"jsonBody", "JSONBody"},
		{"apiKey", "APIKey"},
		{"ip", "IP"},
		{"clientIp", "ClientIP"},
		{"loggedIn", "LoggedIn"},
		{"NameTaken", "NameTaken"},
		{"Name_Taken", "NameTaken"},
		{"ids", "Ids"},
		{"idle", "Idle"},
		{"ip4Addr", "Ip4Addr"},
		{"v2", "V2"},
		{"a__b", "AB"},
		{"x_", "X"},
		{"XMLParser", "XMLParser"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := GoName(tt.in); got != tt.want {
			t.Errorf("GoName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSnakeCase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"NameTaken", "name_taken"},
		{"HTTPError", "http_error"},
		{"NotLoggedIn", "not_logged_in"},
		{"Name_Taken", "name_taken"},
		{"userId", "user_id"},
		{"APIKeyMissing", "api_key_missing"},
		{"Error2", "error2"},
		{"Oauth2Failed", "oauth2_failed"},
		{"X", "x"},
	}
	for _, tt := range tests {
		if got := SnakeCase(tt.in); got != tt.want {
			t.Errorf("SnakeCase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReserved(t *testing.T) {
	tests := []struct{ in, want string }{
		{"type", "Go"},
		{"map", "Go"},
		{"delete", "TypeScript"},
		{"string", "TypeScript"},
		{"undefined", "TypeScript"},
		{"switch", "Go and TypeScript"},
		{"package", "Go and TypeScript"},
		{"name", ""},
		{"message", ""},
		{"error", ""},
	}
	for _, tt := range tests {
		if got := Reserved(tt.in); got != tt.want {
			t.Errorf("Reserved(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"bool", "string", "User", "Users", "Room", "Role"}
	tests := []struct{ in, want string }{
		{"Usr", "User"},     // distance 1
		{"user", "User"},    // case only wins over distance
		{"USERS", "Users"},  // case only
		{"strng", "string"}, // scalar names count
		{"Rome", "Role"},    // the nearest: 1 edit, where Room is 2
		{"Qqqqq", ""},       // nothing close
		{"Ux", ""},          // distance 2 is not less than the length
		{"Roles", "Role"},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"User", "Usr", 1}, {"abc", "abc", 0},
	}
	for _, tt := range tests {
		if got := levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
