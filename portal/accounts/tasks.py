from celery import shared_task

from portal.accounts import services_passwords


@shared_task(name="accounts.password_reset_mail")
def password_reset_mail(user_id: int, language: str, ip: str | None = None) -> bool:
    """Mail a forgot-password link (queued by password_reset_request)."""
    return services_passwords.password_reset_mail_send(user_id=user_id, language=language, ip=ip)
