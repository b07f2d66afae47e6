from django.contrib import admin

from .models import Participant, Response, Survey, SurveyArm, Trial


class SurveyArmInline(admin.TabularInline):
    model = SurveyArm
    extra = 0


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "trials_per_participant", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["name", "slug"]
    readonly_fields = ["slug", "created_at", "opened_at", "closed_at"]
    inlines = [SurveyArmInline]


class TrialInline(admin.TabularInline):
    model = Trial
    extra = 0
    can_delete = False
    fields = ["position", "left_arm", "right_arm", "left_image", "right_image"]
    readonly_fields = fields


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["id", "survey", "language", "created_at", "completed_at"]
    list_filter = ["survey", "language"]
    readonly_fields = ["survey", "token", "seed", "language", "user_agent", "created_at", "completed_at", "completion_code"]
    inlines = [TrialInline]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "trial", "choice", "reaction_time_ms", "created_at"]
    list_filter = ["trial__participant__survey"]
    readonly_fields = ["trial", "choice", "reaction_time_ms", "client_timing", "created_at"]
