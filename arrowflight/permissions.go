package arrowflight

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/acl"
)

// allow checks that the caller may do action on name (a topic or a group);
// a denial is PermissionDenied naming the user, the action and the name.
func (s *Service) allow(ctx context.Context, action acl.Action, name string) error {
	return s.denied(callerUser(ctx).Check(action, name))
}

// allowRead checks that the caller may read topic, in group when group is
// not empty (group mode): both must be allowed.
func (s *Service) allowRead(ctx context.Context, topic, group string) error {
	return s.denied(callerUser(ctx).CheckRead(topic, group))
}

// denied turns an ACL refusal into PermissionDenied, and logs it.
func (s *Service) denied(err error) error {
	if err == nil {
		return nil
	}
	var de *acl.DeniedError
	if errors.As(err, &de) {
		s.log.Info().Str("user", de.User).Str("action", de.Action.String()).Str("name", de.Name).Msg("flight call denied")
		return status.Error(codes.PermissionDenied, de.Error())
	}
	return status.Errorf(codes.Internal, "check permissions: %v", err)
}
