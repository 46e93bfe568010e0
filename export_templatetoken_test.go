package clerkauth

// OnTemplateTokenJoin makes TemplateToken call f each time a caller joins
// a Backend API call already in flight for the same session and template.
func OnTemplateTokenJoin(a *Auth, f func()) { a.templates.onJoin = f }
