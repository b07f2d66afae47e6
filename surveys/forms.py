from django import forms

from generation.models import ImagePool

from .models import Survey


class SurveyCreateForm(forms.ModelForm):
    pools = forms.ModelMultipleChoiceField(
        queryset=ImagePool.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The arms compared: every pair of the chosen pools is shown equally often.",
    )
    open_now = forms.BooleanField(required=False, initial=True, label="Open to participants now")

    class Meta:
        model = Survey
        fields = [
            "name", "trials_per_participant", "question_en", "question_ja",
            "instructions_en", "instructions_ja", "consent_en", "consent_ja",
        ]
        widgets = {field: forms.Textarea(attrs={"rows": 3}) for field in
                   ["instructions_en", "instructions_ja", "consent_en", "consent_ja"]}

    def clean_pools(self):
        pools = list(self.cleaned_data["pools"])
        if len(pools) < 2:
            raise forms.ValidationError("Choose at least two pools.")
        return pools
