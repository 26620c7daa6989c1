DELETE FROM role_permissions WHERE permission = 'auth:referral.review';
DROP TABLE organization_referrals;
