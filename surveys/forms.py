from django import forms
from django.db.models import Count

from generation.models import ImagePool

from .models import Survey


class PoolChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, pool):
        return f"{pool.name} ({pool.get_kind_display().lower()}, {pool.image_count} images)"


class SurveyCreateForm(forms.ModelForm):
    pools = PoolChoiceField(
        queryset=ImagePool.objects.annotate(image_count=Count("images")),
        widget=forms.CheckboxSelectMultiple,
        help_text="The arms compared: every pair of the chosen pools is shown equally often.",
    )
    field_order = ["name", "pools", "trials_per_participant"]
    open_now = forms.BooleanField(required=False, initial=True, label="Open to participants now")

    class Meta:
        model = Survey
        fields = [
            "name", "trials_per_participant", "question_en", "question_ja",
            "instructions_en", "instructions_ja", "consent_en", "consent_ja",
        ]
        labels = {
            "question_en": "Question (English)", "question_ja": "Question (Japanese)",
            "instructions_en": "Instructions (English)", "instructions_ja": "Instructions (Japanese)",
            "consent_en": "Consent text (English)", "consent_ja": "Consent text (Japanese)",
        }
        widgets = {field: forms.Textarea(attrs={"rows": 3}) for field in
                   ["instructions_en", "instructions_ja", "consent_en", "consent_ja"]}

    def clean_pools(self):
        pools = list(self.cleaned_data["pools"])
        if len(pools) < 2:
            raise forms.ValidationError("Choose at least two pools.")
        return pools
