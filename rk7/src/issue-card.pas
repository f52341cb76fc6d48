{ ===========================================================================
  SMS PDS — функциональная клавиша «Выдать карту».
  Номер карты из диапазона (пусто — виртуальная карта), ФИО, день рождения, телефон,
  согласие на обработку персональных данных (без него карта не выдаётся, если так решает
  настройка cards.requirePdConsent) и согласие на новости. Телефон гостя подтверждается кодом из СМС (так решает настройка
  cards.confirmPhone в SMS PDS, а не касса): карта привязывается к номеру, только когда гость
  назвал код, поэтому чужой номер занять нельзя.
  =========================================================================== }
procedure ProcessOperation1001512(Parameter: integer);
var
  cardNumber, fullName, birthday, phone, consent, body, answer, activationId, pin: string;
  status, choice: integer;
  done: boolean;
begin
  cardNumber := gui.InputBox('Выдать карту', 'Номер карты (пусто — виртуальная)', '', true);
  fullName := gui.InputBox('Выдать карту', 'ФИО гостя', '', false);
  if fullName = '' then exit;
  birthday := gui.InputBox('Выдать карту', 'День рождения (ДД.ММ.ГГГГ)', '', false);
  phone := gui.InputBox('Выдать карту', 'Мобильный телефон гостя (79161234567)', '', true);
  if phone = '' then exit;
  if gui.RKMessageDlg('Гость согласен на обработку персональных данных (ФИО, день рождения, телефон) для программы лояльности?', mtConfirmation, [mbYes, mbNo], 0) <> mrYes then
  begin
    gui.ShowMessage('Без согласия на обработку персональных данных карта не выдаётся.');
    exit;
  end;
  if gui.RKMessageDlg('Гость согласен получать новости по СМС?', mtConfirmation, [mbYes, mbNo], 0) = mrYes then consent := 'true' else consent := 'false';

  body := 'fullName=' + UrlEncode(fullName) + '&birthday=' + UrlEncode(birthday) + '&phone=' + UrlEncode(phone) +
    '&pdConsent=true&marketingConsent=' + consent;
  if cardNumber <> '' then body := body + '&cardNumber=' + UrlEncode(cardNumber);
  status := CallSmsPds('/cards/activate', body, answer);
  if KvValue(answer, 'status') <> 'ok' then
  begin
    ShowSmsPdsError(answer);
    exit;
  end;
  activationId := KvValue(answer, 'activationId');

  done := KvValue(answer, 'state') = 'activated';
  while not done do
  begin
    pin := gui.InputBox('Выдать карту', 'Код из СМС на ' + KvValue(answer, 'phone') + ' (пусто — другие действия)', '', true);
    if pin = '' then
    begin
      choice := AskNoCodeAction('Отменить выдачу карты?');
      if choice = 1 then
      begin
        status := CallSmsPds('/cards/activations/' + activationId + '/resend', '', answer);
        if KvValue(answer, 'status') = 'ok' then
          gui.ShowMessage('Новый код отправлен на ' + KvValue(answer, 'phone') + '. Прежний код больше не действует.')
        else
          ShowSmsPdsError(answer);
      end
      else if choice = 2 then
      begin
        status := CallSmsPds('/cards/activations/' + activationId + '/cancel', 'reason=cashier', answer);
        gui.ShowMessage('Выдача карты отменена.');
        exit;
      end;
    end
    else
    begin
      status := CallSmsPds('/cards/activations/' + activationId + '/verify', 'pin=' + UrlEncode(pin), answer);
      if KvValue(answer, 'status') = 'ok' then
        done := true
      else
      begin
        ShowSmsPdsError(answer);
        if KvValue(answer, 'code') <> 'PIN_INVALID' then exit;
      end;
    end;
  end;
  gui.ShowMessage('Карта выдана: ' + KvValue(answer, 'card') + #13#10 + KvValue(answer, 'holder'));
end;
