module github.com/clerkauth/clerkauth

go 1.25

require (
	github.com/clerk/clerk-sdk-go/v2 v2.7.0
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/stretchr/testify v1.12.1
	github.com/svix/svix-webhooks v1.99.1
)

require (
	github.com/go-jose/go-jose/v3 v3.0.5 // indirect
	github.com/google/uuid v1.6.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.43.0 // indirect
)
