project_id               = "jiwa-onboard-prod"
region                   = "asia-southeast2"
job_image_tag            = "2026-11-28" # the tag you build in README "Deploy", step 3
whatsapp_phone_number_id = "100000000000001"
instagram_app_id         = "1234567890"
alert_email              = "ops@example.com"                             # monitoring.tf: where the alerts go
token_public_key         = "REPLACE_with_the_public_half_from_Deploy_1a" # 43 characters
