module github.com/clerkauth/clerkauth/examples/chi

go 1.25

replace github.com/clerkauth/clerkauth => ../..

require (
	github.com/clerkauth/clerkauth v0.0.0
	github.com/go-chi/chi/v5 v5.5.0
)

require (
	github.com/clerk/clerk-sdk-go/v2 v2.7.0 // indirect
	github.com/go-jose/go-jose/v3 v3.0.5 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	github.com/svix/svix-webhooks v1.99.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.43.0 // indirect
)
